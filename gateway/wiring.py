"""The composition root's lists: every blueprint, table module, job module and periodic task.

This is the one place that knows every capability. The app factory registers what is listed here;
nothing below it (the kernel, the jobs package, the capabilities) discovers modules by name. To add
a capability, add its modules to these lists (docs/ARCHITECTURE.md has the recipes).
"""

from __future__ import annotations

from types import ModuleType

from gateway.accounts import api as accounts_api
from gateway.accounts import tables as accounts_tables
from gateway.addresses import api as addresses_api
from gateway.addresses import tables as addresses_tables
from gateway.allocation import api as allocation_api
from gateway.allocation import jobs as allocation_jobs
from gateway.allocation import tables as allocation_tables
from gateway.bulk import api as bulk_api
from gateway.bulk import jobs as bulk_jobs
from gateway.bulk import tables as bulk_tables
from gateway.console import api as console_api
from gateway.console import jobs as console_jobs
from gateway.console import tables as console_tables
from gateway.console import tower as console_tower
from gateway.customs import api as customs_api
from gateway.customs import tables as customs_tables
from gateway.exceptions import api as exceptions_api
from gateway.exceptions import jobs as exceptions_jobs
from gateway.exceptions import tables as exceptions_tables
from gateway.exchanges import api as exchanges_api
from gateway.exchanges import jobs as exchanges_jobs
from gateway.exchanges import tables as exchanges_tables
from gateway.jobs import housekeeping, outbox
from gateway.jobs import tables as outbox_tables
from gateway.jobs.scheduler import Task
from gateway.kernel import health, models
from gateway.kpis import api as kpis_api
from gateway.labels import jobs as labels_jobs
from gateway.labels import tables as labels_tables
from gateway.labels.api import batches as batches_api
from gateway.labels.api import files as label_files_api
from gateway.labels.api import jobs as label_jobs_api
from gateway.labels.api import labels as labels_api
from gateway.manifests import api as manifests_api
from gateway.manifests import tables as manifests_tables
from gateway.pickups import api as pickups_api
from gateway.pickups import tables as pickups_tables
from gateway.predictions import api as predictions_api
from gateway.predictions import jobs as predictions_jobs
from gateway.predictions import tables as predictions_tables
from gateway.rates import ops_tables
from gateway.rates import tables as rates_tables
from gateway.rates.api import cards as rate_cards_api
from gateway.rates.api import markups as markups_api
from gateway.rates.api import quotes as rates_api
from gateway.reconciliation import api as reconciliation_api
from gateway.reconciliation import jobs as reconciliation_jobs
from gateway.reconciliation import tables as reconciliation_tables
from gateway.returns import api as returns_api
from gateway.returns import tables as returns_tables
from gateway.shipments import api as shipments_api
from gateway.tracking import jobs as tracking_jobs
from gateway.tracking import tables as tracking_tables
from gateway.tracking.api import callbacks as callbacks_api
from gateway.tracking.api import tracking as tracking_api
from gateway.trackpage import api as trackpage_api
from gateway.trackpage import links as trackpage_links
from gateway.trackpage import tables as trackpage_tables
from gateway.validation import api as validation_api
from gateway.webhooks import api as webhooks_api
from gateway.webhooks import jobs as webhooks_jobs
from gateway.webhooks import tables as webhooks_tables

# Called with each container's session factory: the outbox relays a transaction's rows after commit;
# tracking pages issue a link in the flush that inserts a shipment.
SESSION_HOOKS = (outbox.install, trackpage_links.install)

# Every module that defines tables: imported before mappers configure, migrations autogenerate,
# or the drift test compares, so that models.Base.metadata is complete.
TABLE_MODULES: tuple[ModuleType, ...] = (
    models,
    outbox_tables,
    rates_tables,
    ops_tables,
    labels_tables,
    tracking_tables,
    allocation_tables,
    reconciliation_tables,
    webhooks_tables,
    exchanges_tables,
    trackpage_tables,
    bulk_tables,
    addresses_tables,
    pickups_tables,
    returns_tables,
    manifests_tables,
    customs_tables,
    accounts_tables,
    predictions_tables,
    exceptions_tables,
    console_tables,
)

# Every module whose functions are marked @registry.job (importing them registers the jobs).
JOB_MODULES: tuple[ModuleType, ...] = (
    outbox,
    housekeeping,
    labels_jobs,
    tracking_jobs,
    allocation_jobs,
    reconciliation_jobs,
    webhooks_jobs,
    exchanges_jobs,
    bulk_jobs,
    predictions_jobs,
    exceptions_jobs,
    console_jobs,
)

# Every HTTP blueprint, in the order the OpenAPI document lists them.
BLUEPRINT_MODULES: tuple[ModuleType, ...] = (
    health,
    shipments_api,
    bulk_api,
    rates_api,
    callbacks_api,
    tracking_api,
    exchanges_api,
    rate_cards_api,
    markups_api,
    allocation_api,
    webhooks_api,
    reconciliation_api,
    labels_api,
    label_jobs_api,
    batches_api,
    label_files_api,
    validation_api,
    kpis_api,
    trackpage_api,
    addresses_api,
    pickups_api,
    returns_api,
    manifests_api,
    customs_api,
    accounts_api,
    predictions_api,
    exceptions_api,
    console_api,
)

# The periodic tasks. In-process tasks (no queue) take the container; the others are RQ jobs.
TASKS: tuple[Task, ...] = (
    Task("outbox-relay", 1, outbox.relay),
    Task("outbox-sweep", 15, outbox.sweep),
    Task("outbox-purge", 3600, outbox.purge_done),
    Task("idempotency-purge", 3600, housekeeping.purge_expired_idempotency_records, queue="default"),
    Task("tracking-poll", 300, tracking_jobs.poll_carriers, queue="tracking"),
    Task("tracking-inbox-sweep", 60, tracking_jobs.sweep_inbox, queue="tracking"),
    Task("tracking-push-subscriptions", 1800, tracking_jobs.keep_push_subscriptions, queue="tracking"),
    Task("eta-retrain", 86400, predictions_jobs.retrain_eta, queue="default"),
    Task("exceptions-watch", 60, exceptions_jobs.watch_shipments, queue="default"),
    Task("console-tower", console_tower.WARM_SECONDS, console_jobs.warm_towers, queue="default"),
    Task("carrier-exchanges-purge", 3600, exchanges_jobs.purge_expired, queue="default"),
    Task("webhooks-purge", 3600, webhooks_jobs.purge_old, queue="webhooks"),
)


def load_all() -> tuple[ModuleType, ...]:
    """Every table module (importing this module imported them): ``models.Base.metadata`` is complete."""
    return TABLE_MODULES
