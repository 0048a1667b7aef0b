"""The scheduler: one per deployment (a lease in the database elects it), running on APScheduler
with its jobs stored in the application database.

- ``scheduler.service``   the lease-guarded APScheduler process (``SchedulerService``)
- ``scheduler.tasks``     what the jobs do; every task is idempotent against the database
- ``scheduler.deadlines`` deadline watch: yellow/red lights, automatic press (催办), escalation
- ``scheduler.callbacks`` satisfaction callbacks (回访) through the SIP bridge's outbound queue
- ``scheduler.rates``     the managers' rates (SQL aggregates) and the daily snapshots
- ``scheduler.retrain``   nightly classifier retraining hook
- ``scheduler.cli`` / ``scheduler.integration``  the ``run.py`` plug-ins
"""
