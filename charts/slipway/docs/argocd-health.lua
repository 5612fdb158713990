-- Argo CD health check for Slipway's App (slipway.dev/v1alpha1), from its kstatus conditions.
-- Install: argocd-cm key resource.customizations.health.slipway.dev_App (see the README).
local hs = {}

local function condition(type_)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == type_ then
        return c
      end
    end
  end
  return nil
end

local function says(c, default)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return default
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Slipway operator to report status"
  return hs
end

local generation = obj.metadata.generation or 0
local observed = obj.status.observedGeneration or 0
if observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to see generation " .. generation
  return hs
end

local ready = condition("Ready")
local stalled = condition("Stalled")
local reconciling = condition("Reconciling")
local phase = obj.status.phase

if (stalled ~= nil and stalled.status == "True") or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = says(stalled ~= nil and stalled.status == "True" and stalled or ready, "Release failed")
  return hs
end

if (reconciling ~= nil and reconciling.status == "True") or phase == "Updating" or phase == "RollingBack" then
  hs.status = "Progressing"
  hs.message = says(reconciling ~= nil and reconciling.status == "True" and reconciling or ready, "Rolling out")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = says(ready, "Running")
  return hs
end

-- Nothing promoted yet: the App waits for someone to promote a release.
if phase == "Pending" or (ready ~= nil and ready.reason == "NoRelease") then
  hs.status = "Suspended"
  hs.message = says(ready, "No release has been promoted")
  return hs
end

hs.status = "Progressing"
hs.message = says(ready, "Waiting for the App to become ready")
return hs
