{{! surface_pseudocolor.qml - a harm density surface (Float32 GeoTIFF) coloured as `harmmap tiles` colours it,
    filled by engine/styles.c and written beside the GeoTIFF as <name>.qml, which QGIS loads as the default style.
    The tiles map range_min..range_max linearly onto the ramp, clamp values outside it to the end colours, and
    leave values at or below the threshold transparent: here the ramp's stops become interpolated colour items,
    clip="0" clamps, and a transparency entry from -1e300 to the threshold hides the rest.
    Scalars: title, range_min, range_max, threshold, label_precision.
    Sections: items (value, colour "#rrggbb", alpha 0-255, label). }}
<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="AllStyleCategories" hasScaleBasedVisibilityFlag="0" minScale="1e+08" maxScale="0">
  <pipe>
    <provider>
      <resampling enabled="false" zoomedInResamplingMethod="nearestNeighbour" zoomedOutResamplingMethod="nearestNeighbour" maxOversampling="2"/>
    </provider>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="0.8" alphaBand="-1" classificationMin="{{range_min}}" classificationMax="{{range_max}}" nodataColor="">
      <rasterTransparency>
        <singleValuePixelList>
          <pixelListEntry min="-1e+300" max="{{threshold}}" percentTransparent="100"/>
        </singleValuePixelList>
      </rasterTransparency>
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue="{{range_min}}" maximumValue="{{range_max}}" labelPrecision="{{label_precision}}">
{{#items}}
          <item value="{{value}}" color="{{colour}}" alpha="{{alpha}}" label="{{label}}"/>
{{/items}}
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" colorizeRed="255" colorizeGreen="128" colorizeBlue="128" colorizeStrength="100" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
