-- Callbacks every model:fit gets without the script asking: each function in M.fit is
-- called as hook(model, fit_opts) when fit starts and returns a callback table (see
-- train/callbacks.lua) or nil. `luacnn train` registers its checkpoint session here
-- (train/session.lua), so training scripts need no code for --checkpoint and --resume.
return {fit = {}}
