-- Cycles through the tokens in $TOKENS, each wrk thread from its own offset,
-- so that no two threads send the same token at once.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("TOKENS")) do
    tokens[#tokens + 1] = line
  end
  i = id * math.floor(#tokens / 2)
  path = os.getenv("WRK_PATH") or "/api/me"
end

function request()
  i = i + 1
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1] })
end
