create or replace table incident_history (
    incident_id varchar, title varchar, started_at timestamp, first_alert_at timestamp, resolved_at timestamp,
    affected_resources varchar, affected_metrics varchar, root_cause varchar, resolution varchar
)
