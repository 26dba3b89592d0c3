{{! boundary_outline.sld - the outlines and names of boundary_outline.qml as OGC SLD 1.1 (the layer_styles
    styleSLD column). Scalars: layer_name, layer_title, label_field, outline_hex, font_size. }}
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
        <se:Rule>
          <se:Name>{{layer_title}}</se:Name>
          <se:PolygonSymbolizer>
            <se:Stroke>
              <se:SvgParameter name="stroke">{{outline_hex}}</se:SvgParameter>
              <se:SvgParameter name="stroke-width">2</se:SvgParameter>
              <se:SvgParameter name="stroke-linejoin">round</se:SvgParameter>
            </se:Stroke>
          </se:PolygonSymbolizer>
          <se:TextSymbolizer>
            <se:Label>
              <ogc:PropertyName>{{label_field}}</ogc:PropertyName>
            </se:Label>
            <se:Font>
              <se:SvgParameter name="font-family">Sans Serif</se:SvgParameter>
              <se:SvgParameter name="font-size">{{font_size_px}}</se:SvgParameter>
            </se:Font>
            <se:Halo>
              <se:Radius>2</se:Radius>
              <se:Fill>
                <se:SvgParameter name="fill">#ffffff</se:SvgParameter>
              </se:Fill>
            </se:Halo>
            <se:Fill>
              <se:SvgParameter name="fill">{{outline_hex}}</se:SvgParameter>
            </se:Fill>
          </se:TextSymbolizer>
        </se:Rule>
      </se:FeatureTypeStyle>
    </UserStyle>
  </NamedLayer>
</StyledLayerDescriptor>
