-- Classic image filters on a real photograph: the picture as three channels of numbers,
-- gray levels, a Gaussian blur, Sobel edges and the Laplacian, each written as a PNG.
--
--   luacnn run examples/filters.lua [photo.png|.ppm|.pgm] [--out DIR]
--
-- The default photo is data/images/chelsea.png (a cat, CC0, from Debian's python3-skimage),
-- which scripts/fetch-data puts there. Output goes to /tmp/luacnn-filters unless --out.
local T = require "luacnn"
local image = require "image"

local function usage(msg)
  io.stderr:write("filters.lua: ", msg, "\nusage: luacnn run examples/filters.lua [photo.png] [--out DIR]\n")
  os.exit(2)
end

local path, out_dir
local i = 1
while arg[i] do
  if arg[i] == "--out" then
    out_dir = arg[i + 1] or usage("--out needs a directory")
    i = i + 2
  elseif arg[i]:sub(1, 2) == "--" then
    usage("unknown option " .. arg[i])
  else
    if path then usage("one photo at a time") end
    path = arg[i]
    i = i + 1
  end
end
out_dir = out_dir or "/tmp/luacnn-filters"

if not path then
  local root = os.getenv("LUACNN_SOURCE_DIR") or "."
  path = root .. "/data/images/chelsea.png"
  local f = io.open(path, "rb")
  if not f then
    io.stderr:write("filters.lua: no photo given and ", path, " is missing.\n",
                    "Run scripts/fetch-data (it takes chelsea.png from Debian's python3-skimage),\n",
                    "or pass any PNG, PPM or PGM file: luacnn run examples/filters.lua photo.png\n")
    os.exit(1)
  end
  f:close()
end

if not os.execute("mkdir -p '" .. out_dir:gsub("'", "'\\''") .. "'") then
  io.stderr:write("filters.lua: cannot create ", out_dir, "\n")
  os.exit(1)
end

local photo = image.load(path)
local C, H, W = photo:size(1), photo:size(2), photo:size(3)
print(string.format("%s: %d channel%s of %dx%d pixels, values %g..%g", path, C, C == 1 and "" or "s", H, W,
                    photo:min(), photo:max()))
if C == 2 or C == 4 then photo = photo:narrow(1, 1, C - 1) end  -- drop the alpha channel
C = photo:size(1)

local function save(name, t, what)
  local file = out_dir .. "/" .. name
  image.save(file, t)
  print(string.format("  %-16s %s", name, what))
end

print("writing into " .. out_dir .. ":")
if C == 3 then
  local ch = image.split(photo)
  save("red.png", ch[1], "the red channel as gray levels (bright = much red)")
  save("green.png", ch[2], "the green channel")
  save("blue.png", ch[3], "the blue channel")
end
local gray = image.grayscale(photo)
save("gray.png", gray, "0.299 R + 0.587 G + 0.114 B (ITU-R BT.601)")

local blur = image.convolve(photo, image.kernels.gaussian5, {padding = "same"})
save("blur.png", blur, "5x5 Gaussian (1 4 8 4 1 outer product / 324) on every channel")

-- Edges on the gray image. Sobel responses are signed: min-max stretch them so that 0
-- is mid-gray, dark is a falling edge and bright a rising one. 'valid' padding (the
-- output is 2 pixels smaller): zero padding would draw a false edge around the border.
local gx = image.convolve(gray, image.kernels.sobel_x, {padding = "valid"})
local gy = image.convolve(gray, image.kernels.sobel_y, {padding = "valid"})
save("sobel_x.png", image.normalize_for_display(gx), "Sobel x: vertical edges, stretched to 0..255")
save("sobel_y.png", image.normalize_for_display(gy), "Sobel y: horizontal edges, stretched to 0..255")
local mag = (gx * gx + gy * gy):sqrt()
save("gradient.png", image.normalize_for_display(mag), "sqrt(gx^2 + gy^2): edges of any direction, bright")
local lap = image.convolve(gray, image.kernels.laplacian, {padding = "valid"})
save("laplacian.png", image.normalize_for_display(lap), "Laplacian (0 -1 0 / -1 4 -1 / 0 -1 0), stretched")
print(string.format("gradient magnitude: mean %.1f, max %.1f", mag:mean(), mag:max()))
