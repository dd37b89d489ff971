-- Claim one job's message (see claim_job in lib.lua). ARGV: job_id, now_ms, worker, retention_ms
return claim_job(ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]))
