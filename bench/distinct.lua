-- wrk script: every request POSTs the next body of the file named by WRK_BODIES (one JSON body a
-- line), so no body repeats until the file is used up; counts the cards in the answers.
local bodies = {}
for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
local threads = {}
sent, cards = 0, 0

function setup(thread)
  table.insert(threads, thread)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[(sent - 1) % #bodies + 1])
end

function response(status, headers, body)
  local _, n = body:gsub("\"indicator\"", "")
  cards = cards + n
end

function done(summary, latency, requests)
  local total_sent, total_cards = 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_cards = total_cards + thread:get("cards")
  end
  io.write(string.format("distinct-bodies %d sent %d cards %d\n", #bodies, total_sent, total_cards))
  for _, p in ipairs({50, 99}) do
    io.write(string.format("percentile %d %d\n", p, latency:percentile(p)))
  end
end
