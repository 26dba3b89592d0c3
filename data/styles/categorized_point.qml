{{! categorized_point.qml - points coloured by one field's values (incidents by category, intelligence by
    grading), filled by engine/styles.c.
    Scalars: layer_title, field, label_field, marker_size (millimetres), outline_colour.
    Sections: categories (index, value, label, colour "r,g,b,a"): one per value found in the layer, and a last
    one with an empty value, which QGIS draws for all other values; aliases (field, index, alias). }}
<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="AllStyleCategories" labelsEnabled="0" hasScaleBasedVisibilityFlag="0" minScale="100000000" maxScale="0" readOnly="0" simplifyDrawingHints="0" simplifyDrawingTol="1" simplifyLocal="1" simplifyMaxScale="1" simplifyAlgorithm="0">
  <renderer-v2 type="categorizedSymbol" attr="{{field}}" symbollevels="0" forceraster="0" enableorderby="0" referencescale="-1">
    <categories>
{{#categories}}
      <category symbol="{{index}}" value="{{value}}" label="{{label}}" render="true"/>
{{/categories}}
    </categories>
    <symbols>
{{#categories}}
      <symbol type="marker" name="{{index}}" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleMarker" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="angle" value="0"/>
            <Option type="QString" name="color" value="{{colour}}"/>
            <Option type="QString" name="name" value="circle"/>
            <Option type="QString" name="outline_color" value="{{outline_colour}}"/>
            <Option type="QString" name="outline_style" value="solid"/>
            <Option type="QString" name="outline_width" value="0.1"/>
            <Option type="QString" name="outline_width_unit" value="MM"/>
            <Option type="QString" name="scale_method" value="diameter"/>
            <Option type="QString" name="size" value="{{marker_size}}"/>
            <Option type="QString" name="size_unit" value="MM"/>
          </Option>
        </layer>
      </symbol>
{{/categories}}
    </symbols>
    <rotation/>
    <sizescale/>
  </renderer-v2>
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>1</layerOpacity>
  <fieldConfiguration/>
  <aliases>
{{#aliases}}
    <alias field="{{field}}" index="{{index}}" name="{{alias}}"/>
{{/aliases}}
  </aliases>
  <previewExpression>"{{label_field}}"</previewExpression>
  <layerGeometryType>0</layerGeometryType>
</qgis>
