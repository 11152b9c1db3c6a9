"""Where every status of AfterShip, EasyPost, Shippo, ShipEngine and Karrio lands in our taxonomy.

Data for docs/TAXONOMY.md and for anyone migrating from one of those platforms. A place is
(milestone, detail, reason); the milestone slot may instead say ``informational`` (a known value
that says nothing about progress) or ``unmapped`` (the vendor's own "we could not map it").
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import taxonomy

INFORMATIONAL = "informational"
UNMAPPED = "unmapped"

_Row = tuple[str, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Place:
    """A vendor value's place in the canonical taxonomy."""

    milestone: taxonomy.Milestone | None
    detail: str | None
    reason: taxonomy.ExceptionReason | None
    kind: str  # "mapped", "informational" or "unmapped"


def _t(m: str, d: str | None = None, r: str | None = None) -> _Row:
    return (m, d, r)


_INFO = _t(INFORMATIONAL)

_AFTERSHIP_TAG: dict[str, _Row] = {
    "Pending": _t("pending"),
    "InfoReceived": _t("info_received", "label_created"),
    "InTransit": _t("in_transit", "in_transit"),
    "OutForDelivery": _t("out_for_delivery", "out_for_delivery"),
    "AttemptFail": _t("attempt_failed", "attempt_failed"),
    "Delivered": _t("delivered", "delivered"),
    "AvailableForPickup": _t("available_for_pickup", "at_pickup_point"),
    "Exception": _t("exception", "exception"),
    "Expired": _t("expired", "no_updates", "no_updates"),
}

_AFTERSHIP_SUBTAG: dict[str, _Row] = {
    "Delivered_001": _t("delivered", "delivered"),
    "Delivered_002": _t("delivered", "picked_up_by_recipient"),
    "Delivered_003": _t("delivered", "signed"),
    "Delivered_004": _t("delivered", "cod_collected"),
    "Delivered_005": _t("delivered", "delivered_to_neighbor"),
    "AvailableForPickup_001": _t("available_for_pickup", "at_pickup_point"),
    "Exception_001": _t("exception", "exception", "undeliverable"),
    "Exception_002": _t("exception", "action_required", "recipient_moved"),
    "Exception_003": _t("exception", "action_required", "refused"),
    "Exception_004": _t("exception", "held", "customs_hold"),
    "Exception_005": _t("exception", "delayed", "external_delay"),
    "Exception_006": _t("exception", "action_required", "payment_required"),
    "Exception_007": _t("exception", "action_required", "address_issue"),
    "Exception_008": _t("exception", "action_required", "unclaimed_at_pickup"),
    "Exception_009": _t("exception", "action_required", "rejected_by_carrier"),
    "Exception_010": _t("returning", "return_in_transit"),
    "Exception_011": _t("returned", "returned_to_sender"),
    "Exception_012": _t("exception", "exception", "damaged"),
    "Exception_013": _t("failed", "lost", "lost"),
    "Exception_016": _t("exception", "delayed", "carrier_delay"),
    "Exception_017": _t("exception", "delayed", "weather_delay"),
    "Exception_018": _t("exception", "action_required", "customs_documents"),
    "Exception_019": _t("exception", "delayed", "carrier_delay"),
    "Exception_020": _t("cancelled", "label_voided", "voided"),
    "Exception_021": _t("failed", "destroyed", "disposed"),
    "AttemptFail_001": _t("attempt_failed", "attempt_failed"),
    "AttemptFail_002": _t("attempt_failed", "attempt_failed", "recipient_unavailable"),
    "AttemptFail_003": _t("attempt_failed", "attempt_failed", "business_closed"),
    "InTransit_001": _t("in_transit", "in_transit"),
    "InTransit_002": _t("in_transit", "picked_up"),
    "InTransit_003": _t("in_transit", "arrived_at_facility"),
    "InTransit_004": _t("in_transit", "arrived_destination_country"),
    "InTransit_005": _t("in_transit", "customs_cleared"),
    "InTransit_006": _t("in_transit", "customs_processing"),
    "InTransit_007": _t("in_transit", "departed_facility"),
    "InTransit_008": _t("in_transit", "problem_resolved"),
    "InTransit_009": _t("in_transit", "rerouted"),
    "InfoReceived_001": _t("info_received", "label_created"),
    "OutForDelivery_001": _t("out_for_delivery", "out_for_delivery"),
    "OutForDelivery_002": _t("available_for_pickup", "at_pickup_point"),
    "OutForDelivery_003": _t("out_for_delivery", "recipient_contacted"),
    "OutForDelivery_004": _t("out_for_delivery", "delivery_scheduled"),
    "Pending_001": _t("pending", "tracking_registered"),
    "Pending_002": _t("pending", "not_yet_in_carrier_system"),
    "Pending_003": _t("pending", "not_yet_in_carrier_system"),
    "Pending_004": _t("pending", "not_yet_in_carrier_system"),
    "Pending_005": _t("pending", "not_yet_in_carrier_system"),
    "Pending_006": _t("pending", "not_yet_in_carrier_system"),
    "Expired_001": _t("expired", "no_updates", "no_updates"),
}

_AFTERSHIP_EVENT: dict[str, _Row] = {
    "rerouted": _t("in_transit", "rerouted"),
    "delivery_attempt_failed": _t("attempt_failed", "attempt_failed"),
    "redelivery_scheduled": _t("attempt_failed", "redelivery_scheduled"),
    "held_by_customs": _t("exception", "held", "customs_hold"),
    "misrouted": _t("exception", "delayed", "missorted"),
    "rejected_by_customer": _t("exception", "action_required", "refused"),
    "return_to_sender_requested": _t("returning", "return_requested"),
    "shipment_lost": _t("failed", "lost", "lost"),
    "canceled": _t("cancelled", "label_voided", "voided"),
    "shipment_damaged": _t("exception", "exception", "damaged"),
    "picked_up": _t("in_transit", "picked_up"),
    "signed_by_customer": _t("delivered", "signed"),
    "carrier_pickup_failed": _t("exception", "action_required", "carrier_pickup_failed"),
    "delivered_to_neighbor": _t("delivered", "delivered_to_neighbor"),
}

_EASYPOST_STATUS: dict[str, _Row] = {
    "unknown": _t("pending", "not_yet_in_carrier_system"),
    "pre_transit": _t("info_received", "label_created"),
    "in_transit": _t("in_transit", "in_transit"),
    "out_for_delivery": _t("out_for_delivery", "out_for_delivery"),
    "delivered": _t("delivered", "delivered"),
    "available_for_pickup": _t("available_for_pickup", "at_pickup_point"),
    "return_to_sender": _t("returning", "return_in_transit"),
    "failure": _t("failed", "undeliverable", "undeliverable"),
    "cancelled": _t("cancelled", "label_voided", "voided"),
    "error": _t(UNMAPPED),
}

_EASYPOST_DETAIL: dict[str, _Row] = {
    "address_correction": _t("exception", "action_required", "address_issue"),
    "arrived_at_destination": _t("in_transit", "arrived_at_destination_facility"),
    "arrived_at_facility": _t("in_transit", "arrived_at_facility"),
    "arrived_at_pickup_location": _t("available_for_pickup", "at_pickup_point"),
    "awaiting_information": _t("exception", "action_required", "customs_documents"),
    "cancelled": _t("cancelled", "label_voided", "voided"),
    "damaged": _t("exception", "exception", "damaged"),
    "delayed": _t("exception", "delayed", "carrier_delay"),
    "delivery_exception": _t("attempt_failed", "attempt_failed", "undeliverable"),
    "departed_facility": _t("in_transit", "departed_facility"),
    "departed_origin_facility": _t("in_transit", "departed_facility"),
    "expired": _t("expired", "no_updates", "no_updates"),
    "failure": _t("failed", "undeliverable", "undeliverable"),
    "held": _t("exception", "held", "held_by_carrier"),
    "in_transit": _t("in_transit", "in_transit"),
    "label_created": _t("info_received", "label_created"),
    "lost": _t("failed", "lost", "lost"),
    "missorted": _t("exception", "delayed", "missorted"),
    "out_for_delivery": _t("out_for_delivery", "out_for_delivery"),
    "received_at_destination_facility": _t("in_transit", "arrived_at_destination_facility"),
    "received_at_origin_facility": _t("in_transit", "dropped_off"),
    "refused": _t("exception", "action_required", "refused"),
    "return": _t("returning", "return_in_transit"),
    "status_update": _INFO,
    "transferred_to_destination_carrier": _t("in_transit", "handed_to_partner"),
    "transit_exception": _t("exception", "exception", "rejected_by_carrier"),
    "unknown": _t(UNMAPPED),
    "weather_delay": _t("exception", "delayed", "weather_delay"),
}

_SHIPPO_STATUS: dict[str, _Row] = {
    "UNKNOWN": _t("pending", "not_yet_in_carrier_system"),
    "PRE_TRANSIT": _t("info_received", "label_created"),
    "TRANSIT": _t("in_transit", "in_transit"),
    "DELIVERED": _t("delivered", "delivered"),
    "RETURNED": _t("returned", "returned_to_sender"),
    "FAILURE": _t("failed", "undeliverable", "undeliverable"),
}

_SHIPPO_SUBSTATUS: dict[str, _Row] = {
    "information_received": _t("info_received", "electronic_advice_received"),
    "address_issue": _t("exception", "action_required", "address_issue"),
    "contact_carrier": _t("exception", "action_required", "customs_documents"),
    "delayed": _t("exception", "delayed", "carrier_delay"),
    "delivery_attempted": _t("attempt_failed", "attempt_failed", "recipient_unavailable"),
    "delivery_rescheduled": _t("exception", "delayed", "delivery_rescheduled"),
    "delivery_scheduled": _t("out_for_delivery", "delivery_scheduled"),
    "location_inaccessible": _t("attempt_failed", "attempt_failed", "location_inaccessible"),
    "notice_left": _t("attempt_failed", "notice_left", "recipient_unavailable"),
    "out_for_delivery": _t("out_for_delivery", "out_for_delivery"),
    "package_accepted": _t("in_transit", "picked_up"),
    "package_arrived": _t("in_transit", "arrived_at_facility"),
    "package_damaged": _t("exception", "exception", "damaged"),
    "package_departed": _t("in_transit", "departed_facility"),
    "package_forwarded": _t("in_transit", "rerouted"),
    "package_held": _t("exception", "held", "held_by_carrier"),
    "package_processed": _t("in_transit", "processed_at_facility"),
    "package_processing": _t("in_transit", "processed_at_facility"),
    "pickup_available": _t("available_for_pickup", "at_pickup_point"),
    "reschedule_delivery": _t("attempt_failed", "redelivery_scheduled", "recipient_unavailable"),
    "delivered": _t("delivered", "delivered"),
    "return_to_sender": _t("returning", "return_in_transit"),
    "package_unclaimed": _t("exception", "action_required", "unclaimed_at_pickup"),
    "package_undeliverable": _t("failed", "undeliverable", "undeliverable"),
    "package_disposed": _t("failed", "destroyed", "disposed"),
    "package_lost": _t("failed", "lost", "lost"),
    "other": _INFO,
}

_SHIPENGINE_STATUS: dict[str, _Row] = {
    "UN": _t("pending", "not_yet_in_carrier_system"),
    "AC": _t("in_transit", "picked_up"),
    "IT": _t("in_transit", "in_transit"),
    "DE": _t("delivered", "delivered"),
    "EX": _t("exception", "exception"),
    "AT": _t("attempt_failed", "attempt_failed"),
    "NY": _t("pending", "not_yet_in_carrier_system"),
    "SP": _t("delivered", "delivered_to_locker"),
}

_SHIPENGINE_DETAIL: dict[str, _Row] = {
    "SHIPMENT_CREATED": _t("info_received", "label_created"),
    "AWAITING_PICKUP_DROP_OFF": _t("info_received", "awaiting_dropoff"),
    "AWAITING_DESPATCH": _t("info_received", "awaiting_dropoff"),
    "AWAITING_ELECTRONIC_ADVICE": _t("info_received", "label_created"),
    "ELEC_ADVICE_RECD_BY_CARRIER": _t("info_received", "electronic_advice_received"),
    "NOT_YET_RECEIVED_BY_CARRIER": _t("info_received", "electronic_advice_received"),
    "RECD_BY_CARRIER_NO_ELEC_ADVICE": _t("in_transit", "picked_up"),
    "COLLECTION_REQUESTED": _t("info_received", "pickup_scheduled"),
    "COLLECTION_FAILED": _t("exception", "action_required", "carrier_pickup_failed"),
    "CANCELLED_BEFORE_DESPATCH": _t("cancelled", "label_voided", "voided"),
    "DROPPED_OFF": _t("in_transit", "dropped_off"),
    "DESPATCHED": _t("in_transit", "departed_facility"),
    "PICKED_UP": _t("in_transit", "picked_up"),
    "COLLECTION_MADE": _t("in_transit", "picked_up"),
    "RECEIVED_BY_CARRIER": _t("in_transit", "picked_up"),
    "IN_TRANSIT": _t("in_transit", "in_transit"),
    "HUB_SCAN_IN": _t("in_transit", "arrived_at_facility"),
    "HUB_SCAN_OUT": _t("in_transit", "departed_facility"),
    "HUB_PROCESSING": _t("in_transit", "processed_at_facility"),
    "RECEIVED_LOCAL_DELIVERY_DEPOT": _t("in_transit", "arrived_at_destination_facility"),
    "SUB_CONTRACTOR_EVENT": _INFO,
    "SUB_CONTRACTOR_RECEIVED": _t("in_transit", "handed_to_partner"),
    "PARCEL_REDIRECTED": _t("in_transit", "rerouted"),
    "PARCEL_OVER_LABELLED": _INFO,
    "PARCEL_REPACKED": _INFO,
    "INFORMATION": _INFO,
    "PARCEL_UPDATE_NOTIFICATION": _INFO,
    "PARCEL_UPDATE_NOTIFICATION_VIA_EMAIL": _INFO,
    "PARCEL_UPDATE_NOTIFICATION_VIA_SMS": _INFO,
    "POST_TRANSIT_STATUS": _INFO,
    "CUSTOMS_PROCESSING": _t("in_transit", "customs_processing"),
    "CUSTOMS_CLEARED": _t("in_transit", "customs_cleared"),
    "HELD_BY_CUSTOMS": _t("exception", "held", "customs_hold"),
    "HELD_BY_EXPORT_CUSTOMS": _t("exception", "held", "customs_hold"),
    "HELD_BY_IMPORT_CUSTOMS": _t("exception", "held", "customs_hold"),
    "HELD_BY_CARRIER_FOR_CLEARANCE_PRE_PROCESSING": _t("exception", "held", "customs_hold"),
    "INCORRECT_DECLARATION": _t("exception", "action_required", "customs_documents"),
    "DELIVERY_SCHEDULED": _t("out_for_delivery", "delivery_scheduled"),
    "DELIVERY_RESCHEDULED": _t("exception", "delayed", "delivery_rescheduled"),
    "DELIVERY_ARRANGED_WITH_RECIPIENT": _t("out_for_delivery", "delivery_scheduled"),
    "OUT_FOR_DELIVERY": _t("out_for_delivery", "out_for_delivery"),
    "ATTEMPTED_DELIVERY": _t("attempt_failed", "attempt_failed", "recipient_unavailable"),
    "ATTEMPTED_DELIVERY_2ND": _t("attempt_failed", "attempt_failed", "recipient_unavailable"),
    "ATTEMPTED_DELIVERY_3RD": _t("attempt_failed", "attempt_failed", "recipient_unavailable"),
    "ATTEMPTED_DELIVERY_FINAL": _t("attempt_failed", "attempt_failed", "recipient_unavailable"),
    "CUSTOMER_CARDED": _t("attempt_failed", "notice_left", "recipient_unavailable"),
    "NO_ACCESS_TO_RECIPIENTS_ADDRESS": _t("attempt_failed", "attempt_failed", "location_inaccessible"),
    "CUSTOMER_IDENTIFICATION_FAILED": _t("attempt_failed", "attempt_failed", "id_verification_failed"),
    "INVALID_METHOD_OF_PAYMENT": _t("attempt_failed", "attempt_failed", "payment_required"),
    "COD_AMOUNT_NOT_PAID": _t("attempt_failed", "attempt_failed", "payment_required"),
    "AWAITING_COLLECTION_FROM_PICKUP_POINT": _t("available_for_pickup", "at_pickup_point"),
    "COLLECT_AT_LOCAL_PO": _t("available_for_pickup", "at_carrier_counter"),
    "CUSTOMER_TO_COLLECT_FROM_CARRIER": _t("available_for_pickup", "at_carrier_counter"),
    "DELIVERED_TO_LOCKER_COLLECTION_POINT": _t("available_for_pickup", "at_locker"),
    "NOT_COLLECTED_FROM_PICKUP_POINT": _t("exception", "action_required", "unclaimed_at_pickup"),
    "PARCEL_COLLECTED_FROM_PICKUP_POINT": _t("delivered", "picked_up_by_recipient"),
    "DELIVERED": _t("delivered", "delivered"),
    "DELIVERED_DAMAGED": _t("delivered", "delivered_damaged", "damaged"),
    "DELIVERED_IN_PART": _t("delivered", "delivered_partial"),
    "DELIVERED_SPECIFIED_SAFE_PLACE": _t("delivered", "delivered_safe_place"),
    "DELIVERED_TO_ALTERNATIVE_DELIVERY_LOCATION": _t("delivered", "delivered_alt_location"),
    "DELIVERED_TO_NEIGHBOUR": _t("delivered", "delivered_to_neighbor"),
    "DELIVERED_TO_PO_BOX": _t("delivered", "delivered_to_locker"),
    "PROOF_OF_DELIVERY": _t("delivered", "signed"),
    "COD_AMOUNT_PAID": _t("delivered", "cod_collected"),
    "ADDRESS_QUERY": _t("exception", "action_required", "address_issue"),
    "CARRIER_DELAYS": _t("exception", "delayed", "carrier_delay"),
    "DELAYED_NOT_CARRIER": _t("exception", "delayed", "external_delay"),
    "HELD_BY_CARRIER": _t("exception", "held", "held_by_carrier"),
    "MISSORTED": _t("exception", "delayed", "missorted"),
    "ROUTING_ERROR": _t("exception", "delayed", "missorted"),
    "CUSTOMER_MOVED": _t("exception", "action_required", "recipient_moved"),
    "HAZARDOUS_PROHIBITED": _t("exception", "action_required", "rejected_by_carrier"),
    "NOT_DELIVERED": _t("attempt_failed", "attempt_failed", "undeliverable"),
    "NOT_DELIVERED_ADDRESSEE_DECEASED": _t("exception", "action_required", "recipient_deceased"),
    "PARCEL_DAMAGED": _t("exception", "exception", "damaged"),
    "PARCEL_DISPOSED": _t("failed", "destroyed", "disposed"),
    "PARCEL_LOST": _t("failed", "lost", "lost"),
    "PARCEL_OUTSIDE_OF_SERVICE_CAPABILITY": _t("exception", "action_required", "rejected_by_carrier"),
    "REFUSED_BY_CUSTOMER": _t("exception", "action_required", "refused"),
    "RETURN_TO_SENDER": _t("returning", "return_in_transit"),
    "CANCELLED": _t("cancelled", "cancelled_by_carrier", "voided"),
    "CARRIER_STATUS_NOT_MAPPED": _t(UNMAPPED),
}

_KARRIO_STATUS: dict[str, _Row] = {
    "pending": _t("info_received", "label_created"),
    "picked_up": _t("in_transit", "picked_up"),
    "on_hold": _t("exception", "held", "held_by_carrier"),
    "cancelled": _t("cancelled", "label_voided", "voided"),
    "delivered": _t("delivered", "delivered"),
    "in_transit": _t("in_transit", "in_transit"),
    "delivery_failed": _t("attempt_failed", "attempt_failed"),
    "delivery_delayed": _t("exception", "delayed", "carrier_delay"),
    "out_for_delivery": _t("out_for_delivery", "out_for_delivery"),
    "ready_for_pickup": _t("available_for_pickup", "at_pickup_point"),
    "return_to_sender": _t("returning", "return_in_transit"),
    "unknown": _t(UNMAPPED),
}

_KARRIO_SHIPMENT_STATUS: dict[str, _Row] = {
    "draft": _t("pending"),
    "created": _t("info_received", "label_created"),
    "cancelled": _t("cancelled", "label_voided", "voided"),
    "shipped": _t("in_transit", "picked_up"),
    "in_transit": _t("in_transit", "in_transit"),
    "delivered": _t("delivered", "delivered"),
    "needs_attention": _t("exception", "action_required"),
    "out_for_delivery": _t("out_for_delivery", "out_for_delivery"),
    "delivery_failed": _t("attempt_failed", "attempt_failed"),
}

_KARRIO_PICKUP_STATUS: dict[str, _Row] = {
    "scheduled": _t("info_received", "pickup_scheduled"),
    "picked_up": _t("in_transit", "picked_up"),
    "cancelled": _t("exception", "action_required", "carrier_pickup_failed"),
    "closed": _t("in_transit", "picked_up"),
}

_KARRIO_INCIDENT: dict[str, _Row] = {
    "carrier_damaged_parcel": _t("exception", "exception", "damaged"),
    "carrier_sorting_error": _t("exception", "delayed", "missorted"),
    "carrier_address_not_found": _t("exception", "action_required", "address_issue"),
    "carrier_parcel_lost": _t("failed", "lost", "lost"),
    "carrier_not_enough_time": _t("exception", "delayed", "carrier_delay"),
    "carrier_vehicle_issue": _t("exception", "delayed", "carrier_delay"),
    "carrier_capacity_exceeded": _t("exception", "delayed", "carrier_delay"),
    "carrier_mechanical_delay": _t("exception", "delayed", "carrier_delay"),
    "retailer_cancelled": _t("cancelled", "label_voided", "voided"),
    "retailer_incorrect_data": _t("exception", "action_required", "address_issue"),
    "retailer_not_ready": _t("exception", "action_required", "shipper_not_ready"),
    "retailer_incorrect_parcel": _t("exception", "action_required", "packaging_issue"),
    "retailer_incorrect_dimensions": _t("exception", "action_required", "packaging_issue"),
    "retailer_packaging_issue": _t("exception", "action_required", "packaging_issue"),
    "consignee_refused": _t("exception", "action_required", "refused"),
    "consignee_business_closed": _t("attempt_failed", "attempt_failed", "business_closed"),
    "consignee_not_available": _t("attempt_failed", "attempt_failed", "recipient_unavailable"),
    "consignee_not_home": _t("attempt_failed", "notice_left", "recipient_unavailable"),
    "consignee_cancelled": _t("exception", "action_required", "refused"),
    "consignee_verification_failed": _t("attempt_failed", "attempt_failed", "id_verification_failed"),
    "consignee_incorrect_address": _t("exception", "action_required", "address_issue"),
    "consignee_access_restricted": _t("attempt_failed", "attempt_failed", "location_inaccessible"),
    "consignee_safe_place_unavailable": _t("attempt_failed", "attempt_failed", "location_inaccessible"),
    "customs_delay": _t("exception", "held", "customs_hold"),
    "customs_documentation": _t("exception", "action_required", "customs_documents"),
    "customs_duties_unpaid": _t("exception", "action_required", "duties_unpaid"),
    "customs_prohibited": _t("exception", "action_required", "rejected_by_carrier"),
    "customs_inspection": _t("exception", "held", "customs_hold"),
    "weather_delay": _t("exception", "delayed", "weather_delay"),
    "natural_disaster": _t("exception", "delayed", "weather_delay"),
    "force_majeure": _t("exception", "delayed", "external_delay"),
    "parcel_being_researched": _t("exception", "under_investigation", "under_investigation"),
    "security_issue": _t("exception", "held", "security_hold"),
    "regulatory_hold": _t("exception", "held", "security_hold"),
    "unknown": _t("exception", "exception"),
}

_TABLES: dict[str, dict[str, _Row]] = {
    "aftership.tag": _AFTERSHIP_TAG,
    "aftership.subtag": _AFTERSHIP_SUBTAG,
    "aftership.event": _AFTERSHIP_EVENT,
    "easypost.status": _EASYPOST_STATUS,
    "easypost.status_detail": _EASYPOST_DETAIL,
    "shippo.status": _SHIPPO_STATUS,
    "shippo.substatus": _SHIPPO_SUBSTATUS,
    "shipengine.status_code": _SHIPENGINE_STATUS,
    "shipengine.status_detail_code": _SHIPENGINE_DETAIL,
    "karrio.tracking_status": _KARRIO_STATUS,
    "karrio.shipment_status": _KARRIO_SHIPMENT_STATUS,
    "karrio.pickup_status": _KARRIO_PICKUP_STATUS,
    "karrio.incident_reason": _KARRIO_INCIDENT,
}


def vocabularies() -> tuple[str, ...]:
    """Return the names of the vendor vocabularies covered (``vendor.field``)."""
    return tuple(_TABLES)


def values(vocabulary: str) -> tuple[str, ...]:
    """Return every value of one vendor vocabulary that has a place."""
    return tuple(_TABLES[vocabulary])


def place(vocabulary: str, value: str) -> Place | None:
    """Return where a vendor value lands in our taxonomy, or None if it has no documented place."""
    row = _TABLES.get(vocabulary, {}).get(value)
    if row is None:
        return None
    m, d, r = row
    if m in (INFORMATIONAL, UNMAPPED):
        return Place(None, None, None, m)
    return Place(taxonomy.Milestone(m), d, taxonomy.ExceptionReason(r) if r else None, "mapped")


def rows() -> list[dict[str, str | None]]:
    """Return the whole cross-walk as plain dicts (for docs and the API)."""
    out = []
    for vocabulary, table in _TABLES.items():
        for value, (m, d, r) in table.items():
            out.append({"vocabulary": vocabulary, "value": value, "milestone": m, "detail": d, "reason": r})
    return out
