-- The lua program of the program suite (harness/programs_suite.cc): table
-- and string churn. Lua allocates every table, string and closure through
-- one realloc-style function over the C library's malloc, realloc and free.
-- Tables are iterated in sorted order only, so the output is the same in
-- every run.
--
-- usage: lua5.4 churn.lua SEED N
local seed, n = tonumber(arg[1]), tonumber(arg[2])
local state = seed
local function below(k)
  state = (state * 1103515245 + 12345) % 2147483648
  return (state // 65536) % k
end
local SYLLABLES = {"ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu", "an", "or"}

local counts, records, cache, cached, total = {}, {}, {}, 0, 0
for i = 1, n do
  local parts = {}
  for _ = 0, below(6) do parts[#parts + 1] = SYLLABLES[below(12) + 1] end
  local word = table.concat(parts)
  counts[word] = (counts[word] or 0) + 1
  records[#records + 1] = {id = i, word = word, tags = {word:sub(1, 2), word:sub(-2)}, score = below(1000)}
  -- A bounded cache: inserts, and a quarter evicted when full.
  local key = word .. "/" .. below(64)
  if cache[key] == nil then cached = cached + 1 end
  local list = {}
  for j = 1, 1 + below(8) do list[j] = word end
  cache[key] = list
  if cached > 4096 then
    local keys = {}
    for k in pairs(cache) do keys[#keys + 1] = k end
    table.sort(keys)
    for j = 1, 1024 do cache[keys[j]] = nil end
    cached = cached - 1024
  end
  -- A sliding window of records, sorted and trimmed.
  if #records > 20000 then
    table.sort(records, function(a, b)
      if a.score ~= b.score then return a.score < b.score end
      return a.word < b.word
    end)
    for j = 1, 100 do total = total + records[j].score end
    local rest = {}
    for j = 10001, #records do rest[#rest + 1] = records[j] end
    records = rest
  end
end

local words = {}
for w in pairs(counts) do words[#words + 1] = w end
table.sort(words)
local out = {}
for _, w in ipairs(words) do out[#out + 1] = w .. ":" .. counts[w] end
local text = table.concat(out, " ")
local nparts, chars = 0, 0
for p in text:gmatch("%S+") do nparts = nparts + 1; chars = chars + #p end
print(#words, total, nparts, chars)
table.sort(words, function(a, b)
  if counts[a] ~= counts[b] then return counts[a] > counts[b] end
  return a < b
end)
for j = 1, math.min(10, #words) do print(words[j], counts[words[j]]) end
