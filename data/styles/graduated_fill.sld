{{! graduated_fill.sld - the choropleth of graduated_fill.qml as OGC SLD 1.1 (the layer_styles styleSLD column),
    for clients other than QGIS. Same placeholders; each class also has lower_operator
    (PropertyIsGreaterThanOrEqualTo for the first class, else PropertyIsGreaterThan, as QGIS matches ranges) and
    colour_hex "#rrggbb". }}
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
{{#classes}}
        <se:Rule>
          <se:Name>{{label}}</se:Name>
          <se:Description>
            <se:Title>{{label}}</se:Title>
          </se:Description>
          <ogc:Filter>
            <ogc:And>
              <ogc:{{lower_operator}}>
                <ogc:PropertyName>{{field}}</ogc:PropertyName>
                <ogc:Literal>{{lower}}</ogc:Literal>
              </ogc:{{lower_operator}}>
              <ogc:PropertyIsLessThanOrEqualTo>
                <ogc:PropertyName>{{field}}</ogc:PropertyName>
                <ogc:Literal>{{upper}}</ogc:Literal>
              </ogc:PropertyIsLessThanOrEqualTo>
            </ogc:And>
          </ogc:Filter>
          <se:PolygonSymbolizer>
            <se:Fill>
              <se:SvgParameter name="fill">{{colour_hex}}</se:SvgParameter>
            </se:Fill>
            <se:Stroke>
              <se:SvgParameter name="stroke">{{outline_hex}}</se:SvgParameter>
              <se:SvgParameter name="stroke-width">1</se:SvgParameter>
              <se:SvgParameter name="stroke-linejoin">bevel</se:SvgParameter>
            </se:Stroke>
          </se:PolygonSymbolizer>
        </se:Rule>
{{/classes}}
      </se:FeatureTypeStyle>
    </UserStyle>
  </NamedLayer>
</StyledLayerDescriptor>
