{{! graduated_fill.qml - choropleth of one numeric field (ward_harm, beat_harm), filled by engine/styles.c.
    Scalars: layer_title, field, field_alias, method_id (QGIS classification id: Jenks, Quantile), label_precision,
    ramp_colour1, ramp_colour2, ramp_stops (QGIS gradient ramp: first and last colour "r,g,b,a", inner stops
    "position;r,g,b,a:..."), outline_colour.
    Sections: classes (index, lower, upper, label, colour "r,g,b,a"); aliases (field, index, alias).
    Lower and upper are written with 17 significant digits, so the first class starts at the layer's minimum and
    the last ends at its maximum exactly. }}
<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="AllStyleCategories" labelsEnabled="0" hasScaleBasedVisibilityFlag="0" minScale="100000000" maxScale="0" readOnly="0" simplifyDrawingHints="1" simplifyDrawingTol="1" simplifyLocal="1" simplifyMaxScale="1" simplifyAlgorithm="0">
  <renderer-v2 type="graduatedSymbol" attr="{{field}}" graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" enableorderby="0" referencescale="-1">
    <ranges>
{{#classes}}
      <range symbol="{{index}}" lower="{{lower}}" upper="{{upper}}" label="{{label}}" render="true"/>
{{/classes}}
    </ranges>
    <symbols>
{{#classes}}
      <symbol type="fill" name="{{index}}" alpha="1" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="{{colour}}"/>
            <Option type="QString" name="joinstyle" value="bevel"/>
            <Option type="QString" name="outline_color" value="{{outline_colour}}"/>
            <Option type="QString" name="outline_style" value="solid"/>
            <Option type="QString" name="outline_width" value="0.2"/>
            <Option type="QString" name="outline_width_unit" value="MM"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
{{/classes}}
    </symbols>
    <source-symbol>
      <symbol type="fill" name="0" alpha="1" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="{{ramp_colour1}}"/>
            <Option type="QString" name="outline_color" value="{{outline_colour}}"/>
            <Option type="QString" name="outline_width" value="0.2"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
    </source-symbol>
    <colorramp type="gradient" name="[source]">
      <Option type="Map">
        <Option type="QString" name="color1" value="{{ramp_colour1}}"/>
        <Option type="QString" name="color2" value="{{ramp_colour2}}"/>
        <Option type="QString" name="discrete" value="0"/>
        <Option type="QString" name="rampType" value="gradient"/>
        <Option type="QString" name="stops" value="{{ramp_stops}}"/>
      </Option>
    </colorramp>
    <classificationMethod id="{{method_id}}">
      <symmetricMode enabled="0" symmetrypoint="0" astride="0"/>
      <labelFormat format="%1 – %2" labelprecision="{{label_precision}}" trimtrailingzeroes="1"/>
      <extraInformation/>
    </classificationMethod>
    <rotation/>
    <sizescale/>
  </renderer-v2>
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>0.85</layerOpacity>
  <fieldConfiguration/>
  <aliases>
{{#aliases}}
    <alias field="{{field}}" index="{{index}}" name="{{alias}}"/>
{{/aliases}}
  </aliases>
  <previewExpression>"{{label_field}}"</previewExpression>
  <layerGeometryType>2</layerGeometryType>
</qgis>
