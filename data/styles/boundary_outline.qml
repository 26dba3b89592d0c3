{{! boundary_outline.qml - area boundaries (wards, beats) drawn as outlines with their names, filled by
    engine/styles.c. A hollow outline keeps whatever lies below (the surface, a choropleth) readable.
    Scalars: layer_title, label_field, outline_colour, outline_width (millimetres), font_size (points).
    Sections: aliases (field, index, alias). }}
<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="AllStyleCategories" labelsEnabled="1" hasScaleBasedVisibilityFlag="0" minScale="100000000" maxScale="0" readOnly="0" simplifyDrawingHints="1" simplifyDrawingTol="1" simplifyLocal="1" simplifyMaxScale="1" simplifyAlgorithm="0">
  <renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0" referencescale="-1">
    <symbols>
      <symbol type="fill" name="0" alpha="1" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="255,255,255,0"/>
            <Option type="QString" name="joinstyle" value="round"/>
            <Option type="QString" name="outline_color" value="{{outline_colour}}"/>
            <Option type="QString" name="outline_style" value="solid"/>
            <Option type="QString" name="outline_width" value="{{outline_width}}"/>
            <Option type="QString" name="outline_width_unit" value="MM"/>
            <Option type="QString" name="style" value="no"/>
          </Option>
        </layer>
      </symbol>
    </symbols>
    <rotation/>
    <sizescale/>
  </renderer-v2>
  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName="{{label_field}}" isExpression="0" fontSize="{{font_size}}" fontSizeUnit="Point" fontWeight="50" fontItalic="0" textColor="{{outline_colour}}" textOpacity="1" namedStyle="Regular" fontFamily="Sans Serif" multilineHeight="1" allowHtml="0" capitalization="0" blendMode="0" previewBkgrdColor="255,255,255,255" useSubstitutions="0">
        <text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM" bufferColor="255,255,255,255" bufferOpacity="0.8" bufferJoinStyle="128" bufferNoFill="1" bufferBlendMode="0"/>
      </text-style>
      <text-format wrapChar="" autoWrapLength="12" useMaxLineLengthForAutoWrap="1" multilineAlign="3" addDirectionSymbol="0" formatNumbers="0" decimals="3" plussign="0" reverseDirectionSymbol="0" placeDirectionSymbol="0" leftDirectionSymbol="&lt;" rightDirectionSymbol=">"/>
      <placement placement="0" priority="5" dist="0" distUnits="MM" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0" offsetType="0" quadOffset="4" overrunDistance="0" repeatDistance="0" layerType="PolygonGeometry" geometryGenerator="" geometryGeneratorEnabled="0" geometryGeneratorType="PointGeometry"/>
      <rendering obstacle="1" obstacleFactor="1" obstacleType="1" displayAll="0" limitNumLabels="0" maxNumLabels="2000" mergeLines="0" minFeatureSize="0" scaleVisibility="0" scaleMin="0" scaleMax="0" fontLimitPixelSize="0" fontMinPixelSize="3" fontMaxPixelSize="10000" upsidedownLabels="0" labelPerPart="0" drawLabels="1" zIndex="0" unplacedVisibility="0"/>
    </settings>
  </labeling>
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
  <layerGeometryType>2</layerGeometryType>
</qgis>
