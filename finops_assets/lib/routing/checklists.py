"""What to check first, per path: the investigation checklist an unattributed alert carries."""

CHECKLISTS: dict[str, list[str]] = {
    "infrastructure_drift": [
        "Check CloudTrail / the activity log for console or API changes to the resource at the onset hour",
        "Compare the resource's SKU, size and count with its Terraform / IaC definition",
        "Run `terraform plan` (or your IaC drift check) for the owning stack",
        "If the change was intended, update the IaC and the budget; else revert it",
    ],
    "traffic_growth": [
        "Confirm the request growth with the product or marketing calendar (campaign, launch, seasonality)",
        "Check that cost per request stayed flat: growth is fine, worse unit cost is not",
        "Review autoscaling limits and commitments for the new level",
        "Update the forecast and budget if the growth is expected to last",
    ],
    "scheduled_job": [
        "List cron jobs, batch schedules and data pipelines that run at the onset hour on that weekday",
        "Check whether the job is new or its input grew",
        "Move it to cheaper capacity (spot, off-peak, a smaller instance) if it is expected",
        "Suppress future alerts for the known schedule once confirmed",
    ],
    "ri_expiry": [
        "Check the commitment (Reserved Instance / Savings Plan) expiry dates in the billing console",
        "Renew or buy a replacement commitment sized to current usage",
        "Set an expiry reminder 30 days ahead for the remaining commitments",
    ],
    "data_tier_threshold": [
        "Check the storage or transfer volume against the provider's price tiers and your commitments",
        "Look for data that could be archived, compressed or moved to a cheaper class",
        "Add lifecycle rules or retention limits for the growing dataset",
        "Negotiate or buy the next volume commitment if the growth is expected",
    ],
    "third_party_pricing": [
        "Check the publisher's price list and your marketplace agreement for a price change",
        "Confirm the quantity (hosts, seats, units) did not change",
        "Ask procurement about a negotiated rate or an alternative",
    ],
    "security_incident": [
        "Treat as a possible compromise: review CloudTrail / activity logs for the new resources' creator",
        "Rotate the access keys or credentials that created them",
        "Stop or isolate the resources after taking snapshots for forensics",
        "Block unused regions with an organization policy (SCP / Azure Policy)",
        "Open a security incident and tell the account owner",
    ],
    "unclassified": [
        "Open the resource's hourly cost and usage around the onset hour",
        "Check recent changes: deployments, console changes, data volume, traffic",
        "Ask the owning team; if they confirm a cause, record it so the router learns the pattern",
    ],
    "deployment_correlation": [
        "Register the team's repositories in team_repositories.csv so deployments can be matched",
        "Check the team's recent releases against the onset hour",
    ],
    "latent_code_change": [
        "Check the team's releases of the past week for queries, loops or caching changes",
        "Compare query plans and request counts before and after the rise began",
    ],
}
