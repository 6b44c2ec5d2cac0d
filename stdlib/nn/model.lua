-- nn.Model: a graph of layers called on nodes (nn/graph.lua) as one Module.
--   local model = nn.Model{inputs = x | {x1, x2}, outputs = y | {y1, y2} | {main = y, aux1 = a1, ...},
--                          aux = {"aux1", ...}, main = "main", name = "block"}
-- * Several outputs come back as a table keyed like `outputs` (names or positions).
--   The main output is outputs.main (or the one named by main=, or the first of a list,
--   or the first name in sorted order); the others follow, sorted by name.
-- * Outputs listed in aux= are auxiliary (training-only) heads: computed in training mode,
--   skipped in evaluation mode (model:evaluate(), predict, eval()) together with every
--   layer that only they use. Whenever one output is active, forward returns that tensor
--   itself, so GoogLeNet gives {main, aux1, aux2} in training and the logits in evaluation.
-- * A Model is a Module: it nests as a layer in another Model or in a Sequential (when it
--   has one output), and a layer (or block) applied twice shares its weights: they appear
--   once in parameters() and collect the gradients of both uses.
-- * Parameter names are "<layer>.<param>" with the layer's index in model.layers (the order
--   of first use) or its name (layer:set_name("conv1")), e.g. "3.weight", "layer1.2.bias".
--
-- Forward runs the layers in the order the nodes were made (a topological order); backward
-- runs them in reverse and sums the gradients of a node that feeds several consumers.
-- A layer keeps what backward needs from its last forward (buffers, masks, batch
-- statistics). When a layer is used twice, the earlier use is recomputed just before its
-- backward, with the generator state of its forward (same dropout mask) and its running
-- statistics restored afterwards; its outputs and gradients are copied out of the layer.
local T = require "luacnn"
local class = require("nn.class").class
local is_a = require("nn.class").is_a
local Module = require "nn.module"
local shape = require "nn.shape"
local graph = require "nn.graph"
local registry = require "nn.registry"
local memory = require "nn.memory"

local bare = graph.bare

local Model = class("Model", Module)

local function is_list_of_nodes(t)
  if type(t) ~= "table" or graph.is_node(t) or #t == 0 then return false end
  for k, v in pairs(t) do
    if math.type(k) ~= "integer" or not graph.is_node(v) then return false end
  end
  return true
end

-- Every module inside m (m itself and the children of containers), as a set.
local function modules_of(m, set)
  set = set or {}
  set[m] = true
  if m.layers then
    for _, child in ipairs(m.layers) do modules_of(child, set) end
  end
  return set
end

-- Outputs as {key, node} pairs in order: main first, then the rest by name.
local function normalize_outputs(outputs, main, level)
  if graph.is_node(outputs) then return {{key = 1, node = outputs}}, false end
  if is_list_of_nodes(outputs) then
    local list = {}
    for i, n in ipairs(outputs) do list[i] = {key = i, node = n} end
    if main ~= nil and (math.type(main) ~= "integer" or not outputs[main]) then
      error(string.format("Model: main = %s is not an output position", tostring(main)), level)
    end
    if main and main ~= 1 then table.insert(list, 1, table.remove(list, main)) end
    return list, false
  end
  if type(outputs) ~= "table" or next(outputs) == nil then
    error("Model: outputs must be a node, a list of nodes or a table of named nodes, got "
          .. (type(outputs) == "table" and "an empty table" or type(outputs)), level)
  end
  local names = {}
  for k, v in pairs(outputs) do
    if type(k) ~= "string" then error("Model: outputs mixes names and positions", level) end
    if not graph.is_node(v) then error(string.format("Model: output '%s' is a %s, not a node", k, type(v)), level) end
    names[#names + 1] = k
  end
  table.sort(names)
  main = main or (outputs.main and "main") or names[1]
  if outputs[main] == nil then error(string.format("Model: main = '%s' is not an output name", tostring(main)), level) end
  local list = {{key = main, node = outputs[main]}}
  for _, k in ipairs(names) do
    if k ~= main then list[#list + 1] = {key = k, node = outputs[k]} end
  end
  return list, true
end

function Model:__init(spec)
  Module.__init(self)
  local level = 3
  if type(spec) ~= "table" or graph.is_node(spec) or is_a(spec, Module) then
    error("Model: expected {inputs = ..., outputs = ...}", level)
  end
  for k in pairs(spec) do
    if k ~= "inputs" and k ~= "outputs" and k ~= "aux" and k ~= "main" and k ~= "name" then
      error(string.format("Model: unknown key '%s' (known: inputs, outputs, aux, main, name)", tostring(k)), level)
    end
  end
  if spec.name ~= nil then self:set_name(spec.name) end
  -- inputs
  local inputs = spec.inputs
  if graph.is_node(inputs) then inputs = {inputs} end
  if not is_list_of_nodes(inputs) then
    error("Model: inputs must be a node from nn.Input or a list of them, got " .. type(spec.inputs), level)
  end
  self.inputs = {}
  local input_slot = {}
  for i, n in ipairs(inputs) do
    if n.layer then
      error(string.format("Model: input %d is the output of %s, not an nn.Input", i, n:describe()), level)
    end
    if input_slot[n] then error(string.format("Model: input %d is input %d again", i, input_slot[n]), level) end
    self.inputs[i] = n
    input_slot[n] = i
  end
  -- outputs
  if spec.outputs == nil then error("Model: outputs are missing", level) end
  local outs, named = normalize_outputs(spec.outputs, spec.main, level)
  self.named_outputs = named
  local aux = {}
  for _, k in ipairs(spec.aux or {}) do
    local found = false
    for i, o in ipairs(outs) do
      if o.key == k then
        if i == 1 then error(string.format("Model: the main output '%s' cannot be auxiliary", tostring(k)), level) end
        aux[k], found = true, true
      end
    end
    if not found then error(string.format("Model: aux lists '%s', which is not an output", tostring(k)), level) end
  end
  for _, o in ipairs(outs) do o.aux = aux[o.key] == true end
  -- every node the outputs depend on
  local seen, nodes, stack = {}, {}, {}
  for _, o in ipairs(outs) do stack[#stack + 1] = o.node end
  while #stack > 0 do
    local n = table.remove(stack)
    if not seen[n] then
      seen[n] = true
      if n.layer then
        nodes[#nodes + 1] = n
        for _, i in ipairs(n.inputs) do stack[#stack + 1] = i end
      elseif not input_slot[n] then
        error(string.format("Model: the outputs depend on %s (made at %s), which is not among the inputs",
                            n:describe(), n.where), level)
      end
    end
  end
  for i, n in ipairs(self.inputs) do
    if not seen[n] then
      error(string.format("Model: input %d (%s, made at %s) is not connected to any output", i, n:describe(), n.where),
            level)
    end
  end
  table.sort(nodes, function(a, b) return a.id < b.id end)
  -- slots: the inputs first, then one per node, in order
  local slot = {}
  for i, n in ipairs(self.inputs) do slot[n] = i end
  self.steps, self.layers = {}, {}
  local layer_index, owners = {}, {}
  for k, n in ipairs(nodes) do
    local st = {node = n, layer = n.layer, multi = n.multi, slot = #self.inputs + k, index = k, args = {}, argbuf = {}}
    for j, i in ipairs(n.inputs) do st.args[j] = slot[i] end
    slot[n] = st.slot
    st.modules = modules_of(n.layer)
    for m in pairs(st.modules) do
      owners[m] = (owners[m] or 0) + 1
    end
    if not layer_index[n.layer] then
      self.layers[#self.layers + 1] = n.layer
      layer_index[n.layer] = #self.layers
    end
    st.has_params = #n.layer:named_parameters() > 0
    self.steps[k] = st
  end
  for _, st in ipairs(self.steps) do
    st.shared = false
    for m in pairs(st.modules) do st.shared = st.shared or owners[m] > 1 end
  end
  local names = {}
  for i, l in ipairs(self.layers) do
    if l.name then
      if names[l.name] then
        error(string.format("Model: layers %d and %d are both named '%s'", names[l.name], i, l.name), level)
      end
      names[l.name] = i
    end
  end
  for _, o in ipairs(outs) do o.slot = slot[o.node] end
  self.output_list = outs
  self.num_outputs = #outs
  self.num_inputs = #self.inputs
  self.multi_input = #self.inputs > 1 or nil
  self.nslots = #self.inputs + #self.steps
  self._train = self:schedule(false)
  self._eval = self:schedule(true)
  self._values, self._grads, self._need = {}, {}, {}
  self.compute_input_grad = true
  if self.multi_input then
    self.input_shape = {}
    for i, n in ipairs(self.inputs) do self.input_shape[i] = shape.copy(n.shape) end
  else
    self.input_shape = shape.copy(self.inputs[1].shape)
  end
  self.built = true
end

-- What one mode runs: the steps its outputs need, how many consumers each slot has, and
-- which steps must be recomputed before their backward (a later step reuses one of their
-- modules and overwrites what the module kept).
function Model:schedule(skip_aux)
  local sched = {outputs = {}, steps = {}, fan = {}, recompute = {}}
  local wanted = {}
  for _, o in ipairs(self.output_list) do
    if not (skip_aux and o.aux) then
      sched.outputs[#sched.outputs + 1] = o
      wanted[o.slot] = true
      sched.fan[o.slot] = (sched.fan[o.slot] or 0) + 1
    end
  end
  for k = #self.steps, 1, -1 do
    local st = self.steps[k]
    if wanted[st.slot] then
      for _, a in ipairs(st.args) do wanted[a] = true end
    end
  end
  local last_user = {}
  for _, st in ipairs(self.steps) do
    if wanted[st.slot] then
      sched.steps[#sched.steps + 1] = st
      for _, a in ipairs(st.args) do sched.fan[a] = (sched.fan[a] or 0) + 1 end
      for m in pairs(st.modules) do last_user[m] = st end
    end
  end
  for _, st in ipairs(sched.steps) do
    for m in pairs(st.modules) do
      if last_user[m] ~= st then sched.recompute[st] = true end
    end
  end
  return sched
end

-- "Model[3] Conv2d(3->16, 3x3): msg", with a nested container's path kept.
function Model:where(st, msg)
  msg = bare(msg)
  local desc = st.layer:describe()
  if msg:sub(1, #desc) == desc then
    local rest = msg:sub(#desc + 1)
    if rest:sub(1, 1) == "[" then return string.format("%s[%d] %s%s", self:describe(), st.index, desc, rest) end
    msg = rest:gsub("^:? ?", "")
  end
  return string.format("%s[%d] %s: %s", self:describe(), st.index, desc, msg)
end

-- The inputs of forward as a list, checked against the Input shapes.
function Model:input_list(x, level)
  level = level + 1
  local xs = x
  if not self.multi_input and T.is_tensor(x) then
    xs = self._one or {}
    self._one = xs
    xs[1] = x
  end
  if type(xs) ~= "table" then
    error(string.format("%s: expected %s, got %s", self:describe(),
                        self.multi_input and ("a list of " .. self.num_inputs .. " tensors") or "a tensor", type(x)), level)
  end
  if #xs ~= self.num_inputs then
    error(string.format("%s: expected %d inputs, got %d", self:describe(), self.num_inputs, #xs), level)
  end
  for i, t in ipairs(xs) do
    local what = self.multi_input and string.format("input %d (%s)", i, self.inputs[i]:describe()) or "input"
    if not T.is_tensor(t) then
      error(string.format("%s: %s is a %s, not a tensor", self:describe(), what, type(t)), level)
    end
    local msg = shape.check_input(t, self.inputs[i].shape)
    if msg then error(string.format("%s: %s: %s", self:describe(), what, msg), level) end
    if t:size(1) ~= xs[1]:size(1) then
      error(string.format("%s: input %d has %d samples but input 1 has %d", self:describe(), i, t:size(1),
                          xs[1]:size(1)), level)
    end
  end
  return xs
end

local function gather_args(st, values)
  if not st.multi then return values[st.args[1]] end
  local a = st.argbuf
  for j, s in ipairs(st.args) do a[j] = values[s] end
  return a
end

function Model:forward(x)
  local xs = self:input_list(x, 2)
  local sched = self.training and self._train or self._eval
  local values = self._values
  for i = 1, self.num_inputs do values[i] = xs[i] end
  for _, st in ipairs(sched.steps) do
    local arg = gather_args(st, values)
    if sched.recompute[st] then st.rng = T.get_rng_state() end
    local layer = st.layer
    layer._inplace = self:reusable_input(st, sched) or nil
    local ok, out = pcall(layer.forward, layer, arg)
    layer._inplace = nil
    if not ok then error(self:where(st, out), 2) end
    if st.shared then
      local b = self:buffer("out" .. st.slot, table.unpack(out:size()))
      b:copy(out)
      out = b
    end
    values[st.slot] = out
  end
  self._sched = sched
  local seen = self._inputs_seen or {}
  self._inputs_seen = seen
  for i = 1, self.num_inputs do seen[i] = xs[i] end
  local outs = sched.outputs
  if #outs == 1 then
    self.output = values[outs[1].slot]
  else
    local res = {}
    for _, o in ipairs(outs) do res[o.key] = values[o.slot] end
    self.output = res
  end
  return self.output
end

-- Whether step st may overwrite its input (an in-place ReLU): the input is the output of a
-- layer used once that does not read it in backward, and st is its only reader (an output
-- of the model counts as a reader).
function Model:reusable_input(st, sched)
  if st.multi or st.shared or self.inplace == false then return false end
  local a = st.args[1]
  local producer = self.steps[a - self.num_inputs]
  return producer ~= nil and not producer.shared and sched.fan[a] == 1 and producer.layer:output_reusable()
end

-- A module's running statistics (batch norm), saved around a recomputation.
local function state_tensors(m, out)
  if m.named_state and not m.layers then
    for _, s in ipairs(m:named_state()) do out[#out + 1] = s.value end
  elseif m.layers then
    for _, child in ipairs(m.layers) do state_tensors(child, out) end
  end
  return out
end

function Model:recompute(st, arg)
  local now = T.get_rng_state()
  local saved = {}
  for _, t in ipairs(state_tensors(st.layer, {})) do saved[#saved + 1] = {t, t:clone()} end
  T.set_rng_state(st.rng)
  local ok, err = pcall(st.layer.forward, st.layer, arg)
  T.set_rng_state(now)
  for _, s in ipairs(saved) do s[1]:copy(s[2]) end
  if not ok then error(err, 0) end
end

-- dy: a tensor when one output is active, else a table keyed like the outputs (an output
-- without an entry gets no gradient). from_preactivation (a boolean, or a table keyed the
-- same way) says dy is taken w.r.t. that output layer's pre-activation (a fused loss).
function Model:backward(x, dy, from_preactivation)
  local sched = self._sched
  local seen = self._inputs_seen
  local same
  if self.multi_input then
    same = sched ~= nil and type(x) == "table" and #x == self.num_inputs
    for i = 1, same and self.num_inputs or 0 do same = same and x[i] == seen[i] end
  else
    same = sched ~= nil and (x == seen[1] or (type(x) == "table" and x[1] == seen[1]))
  end
  if not same then error(self:describe() .. ":backward: call forward with the same input first", 2) end
  local grads, need = self._grads, self._need
  for i = 1, self.nslots do grads[i] = nil end
  local fan = sched.fan
  -- The memory plan (nn/memory.lua): gradients live in the slots of one arena, reused by
  -- liveness. refs[k] counts the graph slots whose gradient is slot k's tensor (or a view
  -- of it); owner[s] is the arena slot holding the gradient of graph slot s (nil: a tensor
  -- the plan does not own, such as the caller's dy). A slot with no refs is free: a layer's
  -- input gradient is written there, or a gradient is copied there to be summed into.
  local shared = self.share_grad_buffers ~= false
  local arena = shared and (self._arena_own or memory.arena()) or nil
  self._arena_own = arena
  local refs, owner = self._refs or {}, self._owner or {}
  self._refs, self._owner = refs, owner
  for k in pairs(refs) do refs[k] = 0 end
  for i = 1, self.nslots do owner[i] = nil end
  local function free_slot()
    local k = 1
    while (refs[k] or 0) > 0 do k = k + 1 end
    return k
  end
  -- g is a gradient for graph slot s, held in arena slot `where` (nil: not the plan's);
  -- copy: the layer that made it is used again and will overwrite it
  local function accumulate(s, g, where, copy)
    if g == nil then return end
    local cur = grads[s]
    if cur then
      cur:add_(g)
      return
    end
    -- a gradient other ones are added into must be a tensor of this slot alone
    if copy or (fan[s] > 1 and (where == nil or (refs[where] or 0) > 0)) then
      local k = shared and free_slot() or nil
      local b = k and arena:tensor(k, table.unpack(g:size())) or self:buffer("grad" .. s, table.unpack(g:size()))
      b:copy(g)
      g, where = b, k
    end
    grads[s] = g
    if where then
      refs[where] = (refs[where] or 0) + 1
      owner[s] = where
    end
  end
  local fused = {}
  local outs = sched.outputs
  if #outs == 1 and (T.is_tensor(dy) or dy == nil) then
    if not T.is_tensor(dy) then error(self:describe() .. ":backward: dy must be a tensor, got nil", 2) end
    accumulate(outs[1].slot, dy)
    if from_preactivation == true then fused[outs[1].slot] = true end
  else
    if type(dy) ~= "table" then
      error(string.format("%s:backward: with %d outputs, dy is a table keyed like the outputs, got %s", self:describe(),
                          #outs, type(dy)), 2)
    end
    for _, o in ipairs(outs) do
      local g = dy[o.key]
      if g ~= nil and not T.is_tensor(g) then
        error(string.format("%s:backward: dy[%q] is a %s, not a tensor", self:describe(), tostring(o.key), type(g)), 2)
      end
      accumulate(o.slot, g)
      if g and type(from_preactivation) == "table" and from_preactivation[o.key] then fused[o.slot] = true end
    end
  end
  for s in pairs(fused) do
    if fan[s] ~= 1 then
      error(self:describe() .. ":backward: a fused loss needs an output that feeds nothing else", 2)
    end
  end
  for i = 1, self.num_inputs do need[i] = self.compute_input_grad ~= false end
  for _, st in ipairs(sched.steps) do
    local any = false
    for _, a in ipairs(st.args) do any = any or need[a] end
    st.input_need = any
    need[st.slot] = any or st.has_params
  end
  local steps = sched.steps
  for k = #steps, 1, -1 do
    local st = steps[k]
    local g = grads[st.slot]
    if g ~= nil and need[st.slot] then
      local layer = st.layer
      local arg = gather_args(st, self._values)
      if sched.recompute[st] then
        local ok, err = pcall(self.recompute, self, st, arg)
        if not ok then error(self:where(st, err), 2) end
      end
      layer.compute_input_grad = st.input_need
      -- a leaf layer used once writes its input gradient into a free slot, and may
      -- overwrite a dy that no other gradient shares (containers plan their own insides)
      local dy_at = owner[st.slot]
      local plan = shared and not st.shared and not layer.layers
      if plan then
        layer._arena, layer._arena_slot, layer._grad_slot = arena, free_slot(), nil
        layer._dy_owned = dy_at ~= nil and refs[dy_at] == 1
      end
      local ok, res = pcall(layer.backward, layer, arg, g, fused[st.slot] or nil)
      local wrote = layer._grad_slot
      layer._arena, layer._arena_slot, layer._dy_owned, layer._grad_slot = nil, nil, nil, nil
      if not ok then error(self:where(st, res), 2) end
      -- where the results are: the slot written, dy's place (a layer passing dy on), or
      -- tensors the plan does not own
      local where = wrote or (plan and layer.grad_aliases_dy and dy_at) or nil
      if st.multi then
        for j, a in ipairs(st.args) do
          if need[a] then accumulate(a, res and res[j], where, st.shared) end
        end
      elseif need[st.args[1]] then
        accumulate(st.args[1], res, where, st.shared)
      end
    end
    -- this step's gradient is dead now
    local at = owner[st.slot]
    if at then refs[at] = refs[at] - 1 end
    owner[st.slot] = nil
  end
  if self.multi_input then
    local gi = {}
    for i = 1, self.num_inputs do gi[i] = grads[i] end
    self.grad_input = gi
  else
    self.grad_input = grads[1]
  end
  return self.grad_input
end

-- A model keeps its gradients in buffers of its own: it takes nothing from the arena of a
-- Sequential around it (nn/memory.lua).
function Model:arena_numel()
  return 0
end

-- The layer of the main output when a loss may be fused with its activation: used once,
-- feeding nothing else, in both modes. nil otherwise (then nothing is fused).
function Model:final_layer()
  local o = self.output_list[1]
  local st = self.steps[o.slot - self.num_inputs]
  if not st or st.shared or st.multi then return nil end
  if self._train.fan[o.slot] ~= 1 or (self._eval.fan[o.slot] or 0) > 1 then return nil end
  return st.layer
end

function Model:preactivation()
  local l = self:final_layer()
  return l and l.preactivation and l:preactivation()
end

function Model:named_parameters(prefix, out)
  out = out or {}
  local first = #out
  for i, layer in ipairs(self.layers) do
    layer:named_parameters((prefix or "") .. (layer.name or i) .. ".", out)
  end
  -- a module reachable twice (inside two blocks) is listed once
  local seen, k = {}, first
  for i = first + 1, #out do
    local p = out[i]
    out[i] = nil
    if not seen[p.value] then
      seen[p.value] = true
      k = k + 1
      out[k] = p
    end
  end
  return out
end

-- Running statistics by name, like the parameters: "<layer>.running_mean".
function Model:named_state(prefix, out)
  out = out or {}
  local function walk(m, p)
    if m.named_state and m ~= self and not m.layers then
      m:named_state(p, out)
    elseif m.layers then
      for i, child in ipairs(m.layers) do walk(child, p .. (child.name or i) .. ".") end
    end
  end
  walk(self, prefix or "")
  return out
end

function Model:clear_buffers()
  self._buffers = {}
  self._arena_own = nil
  for _, layer in ipairs(self.layers) do layer:clear_buffers() end
end

-- A model is built from its inputs' shapes when it is made; building again only checks.
function Model:build(in_shape)
  self:output_shape(in_shape)
end

function Model:unbuild()
  self:clear_buffers()
end

-- The shape of the main output for the inputs' shapes (which must be the model's own).
function Model:output_shape(in_shape)
  local shapes = self.multi_input and in_shape or {in_shape}
  local ok = type(shapes) == "table" and #shapes == self.num_inputs
  for i = 1, ok and #shapes or 0 do ok = ok and type(shapes[i]) == "table" and shape.equal(shapes[i], self.inputs[i].shape) end
  if not ok then
    local want = {}
    for i, n in ipairs(self.inputs) do want[i] = shape.str(n.shape, "N") end
    local got = type(in_shape) == "table" and (type(in_shape[1]) == "table" and "a list of shapes" or shape.str(in_shape, "N"))
                or type(in_shape)
    error(string.format("%s: expects inputs of shape %s, got %s", self:describe(), table.concat(want, " and "), got), 0)
  end
  return shape.copy(self.output_list[1].node.shape)
end

-- The summary's visit protocol (nn/summary.lua): each node handed the nodes of its inputs,
-- under the path of its parameters ("layer1.2.conv1"). What evaluation runs comes first, in
-- order, then the training-only heads (still a topological order: they hang off the trunk),
-- their rows marked training_only. The model's node is its main output's.
function Model:visit(v, inputs, path)
  v:enter(self, inputs, path)
  local nodes = {}
  for i = 1, self.num_inputs do nodes[i] = inputs[i] end
  local key = {}
  for i, layer in ipairs(self.layers) do key[layer] = layer.name or tostring(i) end
  local function visit(st)
    local ins = {}
    for j, a in ipairs(st.args) do ins[j] = nodes[a] end
    nodes[st.slot] = st.layer:visit(v, ins, path == "" and key[st.layer] or (path .. "." .. key[st.layer]))
  end
  local evaluated = {}
  for _, st in ipairs(self._eval.steps) do
    evaluated[st] = true
    visit(st)
  end
  for _, st in ipairs(self.steps) do
    if not evaluated[st] then
      local first = v.rows and #v.rows + 1
      visit(st)
      if first and v.rows[first] then
        v.rows[first].name = v.rows[first].name .. " (training only)"
        for i = first, #v.rows do v.rows[i].training_only = true end
      end
    end
  end
  return v:leave(self, nodes[self.output_list[1].slot], path)
end

function Model:describe()
  return self.name and ("Model(" .. self.name .. ")") or "Model"
end

function Model:__tostring()
  local lines = {self:describe() .. " {"}
  for i, n in ipairs(self.inputs) do
    lines[#lines + 1] = string.format("  input %d: %s", i, n:describe())
  end
  local label = {}
  for i = 1, self.num_inputs do label[i] = "input " .. i end
  for _, st in ipairs(self.steps) do
    label[st.slot] = "[" .. st.index .. "]"
    local from = {}
    for j, a in ipairs(st.args) do from[j] = label[a] end
    local desc = tostring(st.layer):gsub("\n", "\n      ")
    lines[#lines + 1] = string.format("  [%d] %s <- %s  %s", st.index, desc, table.concat(from, ", "),
                                      shape.str(st.node.shape, "N"))
  end
  local outs = {}
  for _, o in ipairs(self.output_list) do
    outs[#outs + 1] = string.format("%s = %s%s", self.named_outputs and o.key or ("output " .. o.key), label[o.slot],
                                    o.aux and " (training only)" or "")
  end
  lines[#lines + 1] = "  " .. table.concat(outs, ", ")
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n")
end

-- The graph as plain data (nn/registry.lua): the inputs, the layers in model.layers order,
-- one node per step {layer = index, inputs = {slots}} where slots 1..#inputs are the inputs
-- and #inputs + k the output of step k, and the outputs {key, slot, aux}. A layer applied
-- twice is one entry used by two nodes, so the rebuilt model shares its weights too, as
-- does a module shared between two nested blocks (registry.config_of marks it).
function Model:config()
  local inputs, layers, index, nodes, outputs = {}, {}, {}, {}, {}
  for i, n in ipairs(self.inputs) do inputs[i] = {shape = shape.copy(n.shape), name = n.name} end
  registry.config_scope(function()
    for i, l in ipairs(self.layers) do
      layers[i] = registry.config_of(l)
      index[l] = i
    end
  end)
  for k, st in ipairs(self.steps) do
    nodes[k] = {layer = index[st.layer], inputs = {table.unpack(st.args)}, multi = st.multi or nil}
  end
  for i, o in ipairs(self.output_list) do outputs[i] = {key = o.key, slot = o.slot, aux = o.aux or nil} end
  return {type = "Model", inputs = inputs, layers = layers, nodes = nodes, outputs = outputs,
          named_outputs = self.named_outputs}
end

local function plain_list(v, what, path)
  if type(v) ~= "table" then error(string.format("%s: %s must be a list", path, what), 0) end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then error(string.format("%s: %s must be a plain list", path, what), 0) end
  end
  return v
end

function Model.from_config(cfg, from_config, path)
  registry.check_fields(cfg, {"inputs", "layers", "nodes", "outputs", "named_outputs"}, path)
  local slots, inputs = {}, {}
  for i, spec in ipairs(plain_list(cfg.inputs, "inputs", path)) do
    if type(spec) ~= "table" then error(string.format("%s: inputs[%d] must be {shape =, name =}", path, i), 0) end
    inputs[i] = graph.Input{shape = spec.shape, name = spec.name}
    slots[i] = inputs[i]
  end
  local layers = {}
  for i, lc in ipairs(plain_list(cfg.layers, "layers", path)) do
    layers[i] = from_config(lc, string.format("%s.layers[%d]", path, i))
  end
  for k, nd in ipairs(plain_list(cfg.nodes, "nodes", path)) do
    local where = string.format("%s.nodes[%d]", path, k)
    local layer = type(nd) == "table" and layers[nd.layer]
    if not layer then error(where .. ": layer must be the index of one of the layers", 0) end
    local args = {}
    -- a node takes only slots made before it: the graph read back cannot have a cycle
    for j, s in ipairs(plain_list(nd.inputs, "inputs", where)) do
      args[j] = math.type(s) == "integer" and s >= 1 and s < #inputs + k and slots[s] or nil
      if not args[j] then error(string.format("%s: input %d is not an earlier slot", where, j), 0) end
    end
    if nd.multi then slots[#inputs + k] = layer(args) else slots[#inputs + k] = layer(args[1]) end
  end
  local outs, aux, main = {}, {}, nil
  for i, o in ipairs(plain_list(cfg.outputs, "outputs", path)) do
    local node = type(o) == "table" and math.type(o.slot) == "integer" and slots[o.slot]
    if not node or (type(o.key) ~= "string" and math.type(o.key) ~= "integer") then
      error(string.format("%s: outputs[%d] must be {key =, slot =} with an existing slot", path, i), 0)
    end
    outs[o.key] = node
    main = main or o.key
    if o.aux then aux[#aux + 1] = o.key end
  end
  return Model{inputs = inputs, outputs = (cfg.named_outputs or #cfg.outputs > 1) and outs or outs[main], aux = aux,
               main = main}
end
registry.register("Model", Model)

return Model
