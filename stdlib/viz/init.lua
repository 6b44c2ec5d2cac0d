-- Charts of training runs: `require "viz"` gives the chart functions (plot), the SVG
-- writer they draw with (svg) and the round-number axis ticks (ticks).
return {
  plot = require "viz.plot",
  svg = require "viz.svg",
  ticks = require "viz.ticks",
}
