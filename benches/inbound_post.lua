-- wrk script: POSTs a realistic customer email with a unique Message-ID per
-- request (so every request creates a ticket, none is a duplicate).
local counter = 0
local thread_id = 0

function setup(thread)
    thread:set("thread_id", thread_id)
    thread_id = thread_id + 1
end

function request()
    counter = counter + 1
    local id = string.format("wrk-%d-%d-%d@bench.tusk.example", thread_id, counter, math.random(1, 1e9))
    local body = "From: Ada Lovelace <ada" .. thread_id .. "@univ-lyon.example>\r\n" ..
        "To: support@tusk.example\r\n" ..
        "Subject: Federation with mastodon.social stopped\r\n" ..
        "Message-ID: <" .. id .. ">\r\n" ..
        "Date: Thu, 26 Nov 2026 09:00:00 +0100\r\n" ..
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" ..
        "Hello,\r\n\r\nsince this morning our posts no longer reach mastodon.social and the\r\n" ..
        "Sidekiq push queue keeps growing. Could you have a look?\r\n\r\nAda\r\n"
    return wrk.format("POST", nil, {["Authorization"] = "Bearer bench-token",
        ["Content-Type"] = "message/rfc822"}, body)
end
