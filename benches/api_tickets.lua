-- wrk script for benches/api.sh: requests the paths listed in $URLS_FILE
-- (one per line) in turn, each thread starting at a different one.
local paths = {}
local file = assert(io.open(os.getenv("URLS_FILE"), "r"))
for line in file:lines() do
    if line ~= "" then
        paths[#paths + 1] = line
    end
end
file:close()

local counter = 0
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("counter", threads * 3)
end

function request()
    counter = counter + 1
    return wrk.format("GET", paths[(counter % #paths) + 1])
end
