-- The luacnn side of bench/resnet18: ResNet-18 (models/resnet.lua, depth 18, torchvision's
-- layout) trained on 32x32 images for 10 classes. Run by bench/resnet18; on its own:
--   luacnn --threads N bench/resnet18.lua BATCH STEPS EPOCHS
-- SGD (lr 0.01, momentum 0.9), sparse categorical cross-entropy fused with the softmax of
-- the classifier, BATCH*STEPS images [3,32,32] of N(0,1) values with random labels 0..9,
-- shuffled each epoch, through model:fit (no augmentation, no validation). A warm-up fit
-- of WARMUP (3) steps, then EPOCHS timed epochs of STEPS steps in one fit call. Prints
--   luacnn batch=B threads=N steps=S epoch_s=t1,... loss=l1,... out=DIMS params=P tensors=K shapes=S
local T = require "luacnn"
local optim = require "optim"

local WARMUP = 3
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local lib = dofile(here .. "/lib.lua")
local bs, steps, epochs = lib.int_args(3, "luacnn [--threads N] bench/resnet18.lua BATCH STEPS EPOCHS")

T.manual_seed(0)
local model = assert(loadfile(here .. "/../models/resnet.lua"))({depth = 18, classes = 10, input_shape = {3, 32, 32}})
model:compile{optimizer = optim.SGD{lr = 0.01, momentum = 0.9}, loss = "sparse_categorical_crossentropy"}
lib.train_cifar_shaped(T, model, bs, steps, epochs, WARMUP)
