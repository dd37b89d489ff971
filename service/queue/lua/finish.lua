-- arq finished running a job. ARGV: job_id, requeue (1|0)
-- requeue=0: the job is done (its outcome is recorded, or arq gave up on it): delete its keys.
-- requeue=1: the run was interrupted (drain, Redis error): the job goes back to the ready queue now.
local job, requeue = ARGV[1], ARGV[2] == '1'
redis.call('ZREM', INFLIGHT, job)
if requeue then
  return back_to_queue(job)
end
end_job(job)
return 0
