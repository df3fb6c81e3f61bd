-- Check: every path is one of the known causes ($paths), and a deployment is named only on the code
-- paths ($deployment_paths). Failing rows: the decision and what is wrong with it.
select anomaly_id, path, deployment_id,
       case when path is null or not list_contains($paths, path) then 'unknown path'
            else 'deployment on a path that is not a code path' end as problem
from routing_decisions
where path is null or not list_contains($paths, path)
   or (deployment_id is not null and not list_contains($deployment_paths, path))
order by anomaly_id
