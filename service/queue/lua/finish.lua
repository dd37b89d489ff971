-- arq finished running a job. ARGV: job_id, requeue (1|0)
-- requeue=0: the job is done (its outcome is recorded, or arq gave up on it): delete its keys.
-- requeue=1: the run was interrupted (drain, Redis error): the job goes back to the ready queue now.
-- Also touches: P.MSG.., P.ARQ_JOB.., P.ARQ_RETRY.. (same hash slot). Returns {requeued}.
local job, requeue = ARGV[1], ARGV[2] == '1'
redis.call('ZREM', K.INFLIGHT, job)
if requeue then
  return cjson.encode({requeued = back_to_queue(job) == 1})
end
end_job(job)
return cjson.encode({requeued = false})
