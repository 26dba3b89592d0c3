{{! categorized_point.sld - the points of categorized_point.qml as OGC SLD 1.1 (the layer_styles styleSLD
    column). Same placeholders; each category also has colour_hex "#rrggbb" and is_other (the empty-value
    category, written as an ElseFilter rule). Sections: values (the categories with a value), other (zero or
    one: the category for all other values). }}
<?xml version="1.0" encoding="UTF-8"?>
<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.1.0" xsi:schemaLocation="http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd">
  <NamedLayer>
    <se:Name>{{layer_name}}</se:Name>
    <UserStyle>
      <se:Name>{{layer_name}}</se:Name>
      <se:Description>
        <se:Title>{{layer_title}}</se:Title>
      </se:Description>
      <se:FeatureTypeStyle>
{{#values}}
        <se:Rule>
          <se:Name>{{label}}</se:Name>
          <se:Description>
            <se:Title>{{label}}</se:Title>
          </se:Description>
          <ogc:Filter>
            <ogc:PropertyIsEqualTo>
              <ogc:PropertyName>{{field}}</ogc:PropertyName>
              <ogc:Literal>{{value}}</ogc:Literal>
            </ogc:PropertyIsEqualTo>
          </ogc:Filter>
          <se:PointSymbolizer>
            <se:Graphic>
              <se:Mark>
                <se:WellKnownName>circle</se:WellKnownName>
                <se:Fill>
                  <se:SvgParameter name="fill">{{colour_hex}}</se:SvgParameter>
                </se:Fill>
                <se:Stroke>
                  <se:SvgParameter name="stroke">{{outline_hex}}</se:SvgParameter>
                  <se:SvgParameter name="stroke-width">0.5</se:SvgParameter>
                </se:Stroke>
              </se:Mark>
              <se:Size>{{marker_size_px}}</se:Size>
            </se:Graphic>
          </se:PointSymbolizer>
        </se:Rule>
{{/values}}
{{#other}}
        <se:Rule>
          <se:Name>{{label}}</se:Name>
          <se:Description>
            <se:Title>{{label}}</se:Title>
          </se:Description>
          <se:ElseFilter/>
          <se:PointSymbolizer>
            <se:Graphic>
              <se:Mark>
                <se:WellKnownName>circle</se:WellKnownName>
                <se:Fill>
                  <se:SvgParameter name="fill">{{colour_hex}}</se:SvgParameter>
                </se:Fill>
                <se:Stroke>
                  <se:SvgParameter name="stroke">{{outline_hex}}</se:SvgParameter>
                  <se:SvgParameter name="stroke-width">0.5</se:SvgParameter>
                </se:Stroke>
              </se:Mark>
              <se:Size>{{marker_size_px}}</se:Size>
            </se:Graphic>
          </se:PointSymbolizer>
        </se:Rule>
{{/other}}
      </se:FeatureTypeStyle>
    </UserStyle>
  </NamedLayer>
</StyledLayerDescriptor>
