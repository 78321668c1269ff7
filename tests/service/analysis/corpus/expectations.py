"""What each corpus migration does, written from reading its SQL with PostgreSQL's and Prisma's
semantics in mind, not from deploy-gate's output.

The facts mean what `service.analysis.facts` says they mean, judged by what PostgreSQL does when
Prisma sends the whole file as one simple-query string (one implicit transaction):

- *transactional*: a failure anywhere leaves nothing behind.
- *idempotent*: after a complete first run, a second run succeeds and changes nothing more.
- *reversible*: every effect has an inverse that needs nothing the file does not say.
- *effects*: `(action, kind, name)` with the name qualified as `schema.parent.name`, leaving out
  what the SQL leaves out. A CREATE TABLE is one effect: its columns and inline constraints come
  and go with it. Names are as PostgreSQL stores them, so unquoted ones are folded to lower case.
- *data changes*: `(kind, schema.table, guarded)`, guarded meaning a second run changes no more
  rows than the first.
- *rollback*: where the rollback plan comes from (`section` when the file carries executable
  rollback SQL, else `derived`) and whether running it after the migration restores the schema.

The transactional and idempotent readings were checked on PostgreSQL 15 by applying the history
in order, each file twice on a copy of the database; so was every rollback plan called complete.

`bugs` maps an aspect to the reason the tool gets it wrong; those cases are strict xfails.
`lint_errors` is exactly the set of rule ids expected at error level; `lint_warnings` ids that
must be among the warnings; `lint_infos` ids that must be among the info findings; `lint_absent`
ids that must not fire at any level. The lint runs as `deploy-gate lint` without `--target`: no
severity overrides, no timeouts set on the session.

Idempotency findings are info in a transactional file and warnings elsewhere: Prisma runs each
file once in one implicit transaction, so a failed transactional file leaves nothing for its retry
to collide with.
The lint reads one file at a time: what only an earlier migration says (a column's previous type)
is not expected of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Expected:
    transactional: bool
    idempotent: bool
    reversible: bool
    effects: set[tuple[str, str, str]]
    rollback_source: str
    rollback_complete: bool
    parses: bool = True
    data_changes: set[tuple[str, str, bool]] = field(default_factory=set)
    lint_errors: set[str] = field(default_factory=set)
    lint_warnings: set[str] = field(default_factory=set)
    lint_infos: set[str] = field(default_factory=set)
    lint_absent: set[str] = field(default_factory=set)
    bugs: dict[str, str] = field(default_factory=dict)


EXPECTED: dict[str, Expected] = {
    "01_init": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "type", "Role"),
            ("create", "table", "User"),
            ("create", "table", "Patient"),
            ("create", "table", "Clinic"),
            ("create", "table", "Notification"),
            ("create", "index", "User.User_email_key"),
            ("create", "index", "Patient.Patient_userId_key"),
            ("create", "constraint", "Patient.Patient_userId_fkey"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_absent={
            "add-foreign-key-without-not-valid",
            "add-not-null-without-default",
            "drop-table",
            "index-without-concurrently",
            "missing-lock-timeout",
            "syntax-error",
            # Prisma's names fit in 63 bytes: it cuts its default names and refuses longer `map:` names.
            "identifier-too-long",
        },
    ),
    "02_add_appointments": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "type", "AppointmentStatus"),
            ("create", "table", "Appointment"),
            ("create", "index", "Appointment.Appointment_patientId_scheduledAt_idx"),
            ("create", "index", "Appointment.Appointment_clinicId_idx"),
            ("create", "constraint", "Appointment.Appointment_patientId_fkey"),
            ("create", "constraint", "Appointment.Appointment_clinicId_fkey"),
        },
        rollback_source="section",
        rollback_complete=True,
        lint_absent={
            "drop-table",
            "index-without-concurrently",
            "missing-rollback-section",
            "rollback-does-not-parse",
        },
    ),
    "03_add_patient_contact_fields": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "column", "Patient.dateOfBirth"),
            ("create", "column", "Patient.phone"),
            ("create", "index", "Patient.Patient_phone_idx"),
        },
        rollback_source="section",
        rollback_complete=True,
        lint_warnings={"index-without-concurrently"},
        lint_absent={"add-not-null-without-default", "drop-column", "missing-rollback-section"},
    ),
    "04_products_and_orders": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "type", "OrderStatus"),
            ("create", "table", "Product"),
            ("create", "table", "Order"),
            ("create", "table", "OrderItem"),
            ("create", "table", "Cart"),
            ("create", "table", "CartItem"),
            ("create", "table", "ProductSearchCache"),
            ("create", "index", "Product.Product_sku_key"),
            ("create", "index", "Order.Order_patientId_idx"),
            ("create", "index", "CartItem.CartItem_cartId_idx"),
            ("create", "constraint", "Order.Order_patientId_fkey"),
            ("create", "constraint", "OrderItem.OrderItem_orderId_fkey"),
            ("create", "constraint", "OrderItem.OrderItem_productId_fkey"),
            ("create", "constraint", "CartItem.CartItem_cartId_fkey"),
            ("create", "constraint", "CartItem.CartItem_productId_fkey"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_absent={"add-foreign-key-without-not-valid", "drop-table", "index-without-concurrently"},
    ),
    "05_order_status_refunded": Expected(
        transactional=True,
        idempotent=False,
        # PostgreSQL cannot drop an enum value.
        reversible=False,
        effects={("create", "enum_value", "OrderStatus.REFUNDED")},
        rollback_source="derived",
        rollback_complete=False,
        lint_warnings={"missing-rollback-section"},
        # Info: the file is one transaction, so a failure leaves nothing for the retry to collide with.
        lint_infos={"enum-add-value-without-if-not-exists"},
        lint_absent={"enum-value-used-in-same-transaction"},
    ),
    "06_role_pharmacist_and_support": Expected(
        transactional=True,
        idempotent=False,
        reversible=False,
        effects={("create", "enum_value", "Role.PHARMACIST"), ("create", "enum_value", "Role.SUPPORT")},
        rollback_source="derived",
        rollback_complete=False,
        # Info: the file is one transaction, so a failure leaves nothing for the retry to collide with.
        lint_infos={"enum-add-value-without-if-not-exists"},
        lint_absent={"enum-value-used-in-same-transaction"},
    ),
    "07_remove_rescheduled_status": Expected(
        # BEGIN is the first statement and COMMIT the last: a failure commits nothing.
        transactional=True,
        # A second run happens to succeed (the _new type was renamed away), but it recreates the
        # type and rewrites the table again rather than doing nothing.
        idempotent=False,
        reversible=False,
        effects={
            ("create", "type", "AppointmentStatus_new"),
            ("alter", "column", "Appointment.status"),
            ("rename", "type", "AppointmentStatus"),
            ("rename", "type", "AppointmentStatus_new"),
            ("drop", "type", "AppointmentStatus_old"),
        },
        rollback_source="derived",
        rollback_complete=False,
        # RESCHEDULED is gone: the release still running fails writing it (22P02).
        lint_warnings={"column-type-change", "drop-enum-value", "explicit-transaction-control"},
        lint_absent={
            "drop-table",
            "enum-value-used-in-same-transaction",
            # Prisma's replacement: "AppointmentStatus" names the new type when the file commits,
            # the dropped type is the renamed-away old one, and the default is set again.
            "drop-column-default",
            "drop-type",
            "rename-type",
        },
    ),
    "08_merge_support_into_admin": Expected(
        transactional=True,
        # The second run's UPDATE compares "role" with 'SUPPORT', no longer a Role value (22P02).
        idempotent=False,
        reversible=False,
        effects={
            ("rename", "type", "Role"),
            ("create", "type", "Role"),
            ("alter", "column", "User.role"),
            ("drop", "type", "Role_old"),
        },
        data_changes={("update", "User", True)},
        rollback_source="derived",
        rollback_complete=False,
        # The rows are moved off SUPPORT first, but the release still running may write it (22P02).
        lint_warnings={"column-type-change", "drop-enum-value"},
        lint_absent={
            "data-change-without-guard",
            "enum-value-used-in-same-transaction",
            "update-without-where",
            # "Role" is created again before the commit, the old type is dropped under the name this
            # file gave it, and the default is set again.
            "drop-column-default",
            "drop-type",
            "rename-type",
        },
    ),
    "09_coupons_idempotent": Expected(
        transactional=True,
        idempotent=True,
        reversible=True,
        effects={
            ("create", "type", "DiscountType"),
            ("create", "table", "Coupon"),
            ("create", "index", "Coupon.Coupon_code_key"),
            ("create", "column", "Order.couponId"),
            ("create", "constraint", "Order.Order_couponId_fkey"),
        },
        rollback_source="section",
        rollback_complete=True,
        lint_absent={
            "add-column-without-if-not-exists",
            "add-constraint-without-guard",
            "create-index-without-if-not-exists",
            "create-table-without-if-not-exists",
            "create-type-without-guard",
            "drop-column",
            "drop-table",
            "missing-rollback-section",
            "rollback-does-not-parse",
            "rollback-not-executable",
        },
    ),
    "10_coupon_partner_codes": Expected(
        transactional=True,
        # A duplicate UNIQUE constraint fails with 42P07 (its index's name is taken), which the
        # duplicate_object (42710) handler does not catch.
        idempotent=False,
        reversible=True,
        effects={
            ("create", "column", "Coupon.partnerCode"),
            ("create", "constraint", "Coupon.Coupon_partnerCode_code_key"),
        },
        rollback_source="derived",
        rollback_complete=True,
        # Info: the file is one transaction, so a failure leaves nothing for the retry to collide with.
        lint_infos={"add-constraint-without-guard"},
        lint_absent={"add-column-without-if-not-exists"},
    ),
    "11_backfill_patient_mrn": Expected(
        transactional=True,
        idempotent=True,
        # The backfill writes only the column this file adds (and advances the sequence it
        # creates): dropping them undoes it.
        reversible=True,
        effects={
            ("create", "column", "Patient.mrn"),
            ("create", "sequence", "patient_mrn_seq"),
            ("create", "index", "Patient.Patient_mrn_key"),
        },
        data_changes={("update", "Patient", True)},
        rollback_source="section",
        rollback_complete=True,
        lint_absent={
            "add-column-without-if-not-exists",
            "create-index-without-if-not-exists",
            "create-without-if-not-exists",
            "data-change-without-guard",
            "missing-rollback-section",
            "update-without-where",
        },
    ),
    "12_product_price_in_cents": Expected(
        transactional=True,
        idempotent=False,
        reversible=False,
        effects={("alter", "column", "Product.price"), ("rename", "column", "Product.price")},
        # "price" * 100 again on every run: the WHERE names the column but skips no converted row.
        data_changes={("update", "Product", False)},
        rollback_source="derived",
        rollback_complete=False,
        # DECIMAL(10,2) to INTEGER narrows, but only 04_products_and_orders says the column was
        # DECIMAL: narrowing-type-change is not expected of a lint that reads one file.
        lint_warnings={"column-type-change", "rename-column"},
        # Info: the file is one transaction, so a failure leaves nothing for the retry to collide with.
        lint_infos={"data-change-without-guard"},
    ),
    "13_flat_shipping_backfill": Expected(
        transactional=True,
        idempotent=False,
        reversible=False,
        effects={("create", "column", "Order.shippingCents")},
        data_changes={("update", "Order", False)},
        rollback_source="derived",
        rollback_complete=False,
        lint_warnings={"backfill-with-schema-change"},
        # Info: the file is one transaction, so a failure leaves nothing for the retry to collide with.
        lint_infos={"data-change-without-guard"},
        lint_absent={"add-not-null-without-default", "volatile-default"},
    ),
    "14_seed_medication_catalog": Expected(
        transactional=True,
        idempotent=True,
        reversible=False,
        effects={("create", "table", "Medication"), ("create", "index", "Medication.Medication_ndc_key")},
        data_changes={("insert", "Medication", True), ("insert", "Product", True)},
        rollback_source="derived",
        rollback_complete=False,
        lint_absent={
            "create-index-without-if-not-exists",
            "create-table-without-if-not-exists",
            "data-change-without-guard",
        },
    ),
    "15_inventory_levels": Expected(
        transactional=True,
        idempotent=False,
        # The upsert writes only the table this file creates.
        reversible=True,
        effects={
            ("create", "table", "InventoryLevel"),
            ("create", "index", "InventoryLevel.InventoryLevel_productId_warehouseCode_key"),
            ("create", "constraint", "InventoryLevel.InventoryLevel_productId_fkey"),
        },
        # ON CONFLICT DO UPDATE adds the quantity again on every run.
        data_changes={("insert", "InventoryLevel", False)},
        rollback_source="derived",
        rollback_complete=True,
        # Info: the file is one transaction, so a failure leaves nothing for the retry to collide with.
        lint_infos={"data-change-without-guard"},
        lint_absent={"add-foreign-key-without-not-valid", "index-without-concurrently"},
    ),
    "16_order_status_index_concurrently": Expected(
        # Alone in the file, so it runs outside a transaction: a failed build leaves an INVALID index.
        transactional=False,
        idempotent=False,
        reversible=True,
        effects={("create", "index", "Order.Order_status_createdAt_idx")},
        rollback_source="derived",
        rollback_complete=True,
        # A warning: not one transaction, a failed build leaves an INVALID index the retry collides with.
        lint_warnings={"create-index-without-if-not-exists"},
        lint_absent={"concurrently-in-transaction", "index-without-concurrently", "missing-lock-timeout"},
    ),
    "17_prescriptions": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "type", "PrescriptionStatus"),
            ("create", "table", "Prescription"),
            ("create", "index", "Prescription.Prescription_patientId_idx"),
            ("create", "constraint", "Prescription.Prescription_patientId_fkey"),
            ("create", "constraint", "Prescription.Prescription_medicationId_fkey"),
        },
        rollback_source="section",
        rollback_complete=True,
        lint_absent={
            "drop-table",
            "index-without-concurrently",
            "missing-rollback-section",
            "rollback-does-not-parse",
        },
    ),
    "18_prescription_status_index_mixed": Expected(
        # With another statement in the string, CONCURRENTLY is refused (25001) before it starts.
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "column", "Prescription.pharmacistNote"),
            ("create", "index", "Prescription.Prescription_status_issuedAt_idx"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_errors={"concurrently-in-transaction"},
        lint_absent={"syntax-error"},
    ),
    "19_order_item_line_totals": Expected(
        # The index is built after COMMIT: if it fails, the column and its backfill stay committed.
        transactional=False,
        idempotent=False,
        # The backfill writes only the column this file adds.
        reversible=True,
        effects={
            ("create", "column", "OrderItem.lineTotalCents"),
            ("create", "index", "OrderItem.OrderItem_productId_idx"),
        },
        data_changes={("update", "OrderItem", True)},
        rollback_source="derived",
        rollback_complete=True,
        # Idempotency stays a warning: after the COMMIT, a retry meets the column the first run kept.
        lint_warnings={
            "add-column-without-if-not-exists",
            "create-index-without-if-not-exists",
            "explicit-transaction-control",
            "index-without-concurrently",
            "update-without-where",
        },
        lint_absent={"concurrently-in-transaction", "data-change-without-guard"},
    ),
    "20_awaiting_pharmacist_status": Expected(
        # The UPDATE uses the new label before it is committed (55P04): the file always fails.
        transactional=True,
        idempotent=False,
        reversible=False,
        effects={("create", "enum_value", "OrderStatus.AWAITING_PHARMACIST")},
        data_changes={("update", "Order", True)},
        rollback_source="derived",
        rollback_complete=False,
        lint_errors={"enum-value-used-in-same-transaction"},
        lint_absent={"update-without-where"},
    ),
    "21_order_prescription_fk": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "column", "Order.prescriptionId"),
            ("create", "constraint", "Order.Order_prescriptionId_fkey"),
            ("alter", "constraint", "Order.Order_prescriptionId_fkey"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_absent={
            "add-foreign-key-without-not-valid",
            "missing-lock-timeout",
            "missing-statement-timeout",
        },
    ),
    "22_updated_at_triggers": Expected(
        transactional=True,
        idempotent=True,
        reversible=True,
        effects={
            ("create", "function", "set_updated_at"),
            ("create", "trigger", "Patient.Patient_set_updatedAt"),
            ("create", "trigger", "Prescription.Prescription_set_updatedAt"),
            ("create", "view", "UpcomingAppointment"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_absent={"create-function-without-or-replace", "drop-table"},
    ),
    "23_order_status_audit": Expected(
        transactional=True,
        # DROP … IF EXISTS right before CREATE is the pre-OR REPLACE way to make a re-run safe.
        idempotent=True,
        # A trigger or view of the same name that existed before is gone for good.
        reversible=False,
        effects={
            ("create", "table", "audit_log"),
            ("create", "function", "log_order_status_change"),
            ("drop", "trigger", "Order.Order_status_audit"),
            ("create", "trigger", "Order.Order_status_audit"),
            ("drop", "view", "OpenOrder"),
            ("create", "view", "OpenOrder"),
        },
        rollback_source="derived",
        rollback_complete=False,
        lint_absent={
            "create-function-without-or-replace",
            "create-table-without-if-not-exists",
            "drop-without-if-exists",
            # The view is created again in the same transaction: the running application never misses it.
            "drop-view",
        },
    ),
    "24_rename_clinic_to_location": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("rename", "table", "Clinic"),
            ("rename", "constraint", "Location.Clinic_pkey"),
            ("rename", "column", "Appointment.clinicId"),
            ("rename", "constraint", "Appointment.Appointment_clinicId_fkey"),
            ("rename", "index", "Appointment_clinicId_idx"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_warnings={"rename-column", "rename-table"},
        lint_absent={"drop-table"},
    ),
    "25_widen_order_totals": Expected(
        transactional=True,
        # Changing a column to the type it already has is a no-op.
        idempotent=True,
        reversible=False,
        effects={("alter", "column", "Appointment.notes"), ("alter", "column", "Order.totalCents")},
        rollback_source="derived",
        rollback_complete=False,
        # Prisma's warning states the old type: Text to VarChar(2000) fails longer writes (22001).
        # BIGINT has no warning, and widens.
        lint_warnings={"column-type-change", "missing-rollback-section", "narrowing-type-change"},
    ),
    "26_drop_legacy_cart": Expected(
        transactional=True,
        idempotent=False,
        reversible=False,
        effects={
            ("drop", "constraint", "CartItem.CartItem_cartId_fkey"),
            ("drop", "constraint", "CartItem.CartItem_productId_fkey"),
            ("drop", "table", "Cart"),
            ("drop", "table", "CartItem"),
        },
        rollback_source="derived",
        rollback_complete=False,
        lint_errors={"drop-table"},
        lint_warnings={"missing-rollback-section"},
        # Info: the file is one transaction, so a failure leaves nothing for the retry to collide with.
        lint_infos={"drop-without-if-exists"},
        lint_absent={"drop-column"},
    ),
    "27_patient_phone_e164": Expected(
        transactional=True,
        idempotent=False,
        reversible=False,
        effects={
            ("drop", "index", "Patient_phone_idx"),
            ("drop", "column", "Patient.phone"),
            ("create", "column", "Patient.phoneE164"),
            ("create", "index", "Patient.Patient_phoneE164_idx"),
        },
        rollback_source="derived",
        rollback_complete=False,
        lint_errors={"drop-column"},
        lint_warnings={"drop-index-without-concurrently"},
        lint_absent={"add-not-null-without-default"},
    ),
    "28_location_timezone_required": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={("create", "column", "Location.timezone")},
        rollback_source="derived",
        rollback_complete=True,
        lint_errors={"add-not-null-without-default"},
    ),
    "29_patient_insurance_mixed_case": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "table", "PatientInsurance"),
            ("create", "index", "PatientInsurance.PatientInsurance_patientId_memberID_key"),
            ("create", "constraint", "PatientInsurance.PatientInsurance_patientId_fkey"),
            ("create", "index", "PatientInsurance.patientinsurance_payername_lower_idx"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_absent={"add-foreign-key-without-not-valid", "index-without-concurrently"},
    ),
    "30_preferred_pharmacy_unquoted": Expected(
        # Fails on apply (42P01, no table "patient"), but the facts are about what the SQL says.
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={("create", "column", "patient.preferredpharmacyid")},
        rollback_source="derived",
        rollback_complete=True,
        lint_absent={"syntax-error"},
    ),
    "31_billing_schema": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "schema", "billing"),
            ("create", "type", "billing.InvoiceStatus"),
            ("create", "table", "billing.Invoice"),
            ("create", "index", "billing.Invoice.Invoice_number_key"),
            ("create", "index", "billing.Invoice.Invoice_orderId_idx"),
            ("create", "constraint", "billing.Invoice.Invoice_orderId_fkey"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_absent={"drop-schema", "index-without-concurrently"},
    ),
    "32_gift_cards_does_not_parse": Expected(
        parses=False,
        # Our parser may be older or newer than the target server, so nothing is claimed about
        # what the server would run.
        transactional=False,
        idempotent=False,
        reversible=False,
        effects=set(),
        rollback_source="section",
        # Nothing is known about what the migration does, so nothing says the section undoes it.
        rollback_complete=False,
        lint_errors={"syntax-error"},
        lint_absent={"drop-table", "rollback-does-not-parse"},
    ),
    "33_empty_placeholder": Expected(
        transactional=True,
        idempotent=True,
        reversible=True,
        effects=set(),
        rollback_source="derived",
        # Nothing to undo: the empty plan restores the schema.
        rollback_complete=True,
        lint_absent={"missing-rollback-section", "syntax-error"},
    ),
    "34_gift_options": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "column", "Order.giftMessage"),
            ("create", "column", "Order.isGift"),
            ("create", "constraint", "Order.Order_giftMessage_requires_gift"),
        },
        rollback_source="section",
        rollback_complete=True,
        lint_warnings={"add-check-without-not-valid"},
        lint_absent={"drop-column", "missing-rollback-section", "rollback-does-not-parse"},
    ),
    "35_search_indexes": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "index", "Product.Product_name_idx"),
            ("create", "index", "Medication.Medication_genericName_idx"),
        },
        # The section is prose only; the derived inverse drops both indexes.
        rollback_source="derived",
        rollback_complete=True,
        lint_warnings={"index-without-concurrently", "rollback-not-executable"},
        lint_absent={"rollback-does-not-parse"},
    ),
    "36_refill_tracking": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "column", "Prescription.lastFilledAt"),
            ("create", "column", "Prescription.refillsUsed"),
            ("create", "index", "Prescription.Prescription_lastFilledAt_idx"),
        },
        rollback_source="section",
        # DROP COLUM: the section does not parse.
        rollback_complete=False,
        lint_errors={"rollback-does-not-parse"},
        lint_absent={"drop-column"},
    ),
    "37_lab_results": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("create", "type", "LabResultFlag"),
            ("create", "table", "LabResult"),
            ("create", "column", "Patient.lastLabCollectedAt"),
            ("create", "index", "LabResult.LabResult_patientId_collectedAt_idx"),
            ("create", "constraint", "LabResult.LabResult_patientId_fkey"),
        },
        rollback_source="section",
        # The section forgets "Patient"."lastLabCollectedAt".
        rollback_complete=False,
        lint_absent={"drop-table", "rollback-does-not-parse"},
    ),
    "38_provider_npi": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={
            ("rename", "column", "Appointment.providerName"),
            ("create", "column", "Appointment.providerNpi"),
            ("create", "index", "Appointment.Appointment_providerNpi_idx"),
        },
        rollback_source="section",
        # The section never renames "providerDisplayName" back to "providerName".
        rollback_complete=False,
        lint_warnings={"rename-column"},
        lint_absent={"drop-column"},
    ),
    "39_appointment_duration_required": Expected(
        transactional=True,
        idempotent=True,
        reversible=False,
        effects={("alter", "column", "Appointment.durationMinutes")},
        data_changes={("update", "Appointment", True)},
        rollback_source="derived",
        rollback_complete=False,
        # The backfill and the default do not stop the release still running from writing NULL.
        lint_warnings={"set-not-null", "set-not-null-breaks-old-writes"},
        lint_absent={"add-not-null-without-default", "data-change-without-guard"},
    ),
    "40_rebuild_search_cache": Expected(
        transactional=True,
        idempotent=False,
        reversible=False,
        effects={("create", "column", "ProductSearchCache.priceCents")},
        data_changes={("truncate", "ProductSearchCache", True)},
        rollback_source="derived",
        rollback_complete=False,
        # The suppression silences truncate and is therefore used.
        lint_absent={"truncate", "unused-suppression"},
    ),
    "41_rename_paid_status": Expected(
        transactional=True,
        idempotent=False,
        reversible=True,
        effects={("rename", "enum_value", "OrderStatus.PAID")},
        rollback_source="derived",
        rollback_complete=True,
        # The release still running writes 'PAID' and cannot read 'PAYMENT_CAPTURED'.
        lint_warnings={"rename-enum-value"},
        lint_absent={"enum-value-used-in-same-transaction"},
    ),
    "42_analytics_daily_revenue": Expected(
        transactional=True,
        idempotent=True,
        reversible=True,
        effects={
            ("create", "schema", "analytics"),
            ("create", "materialized_view", "analytics.daily_revenue"),
            ("create", "index", "analytics.daily_revenue.daily_revenue_day_key"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_absent={
            "create-index-without-if-not-exists",
            "create-without-if-not-exists",
            "index-without-concurrently",
            "missing-lock-timeout",
            "missing-statement-timeout",
        },
    ),
    "43_notification_user_fk": Expected(
        transactional=True,
        idempotent=True,
        reversible=False,
        effects={
            ("create", "constraint", "Notification.Notification_userId_fkey"),
            ("create", "index", "Notification.Notification_userId_idx"),
        },
        data_changes={("delete", "Notification", True)},
        rollback_source="derived",
        rollback_complete=False,
        lint_warnings={"index-without-concurrently"},
        lint_absent={
            "add-constraint-without-guard",
            "backfill-with-schema-change",
            "create-index-without-if-not-exists",
            "data-change-without-guard",
            "delete-without-where",
        },
    ),
    "44_soft_delete_dynamic_sql": Expected(
        transactional=True,
        # ADD COLUMN without IF NOT EXISTS: the second run fails with 42701.
        idempotent=False,
        # The columns could be dropped, but only someone who runs format() in their head knows
        # which: from the file alone the SQL built at run time has no inverse.
        reversible=False,
        effects={
            ("create", "column", "Patient.deletedAt"),
            ("create", "column", "Appointment.deletedAt"),
            ("create", "column", "Prescription.deletedAt"),
        },
        rollback_source="derived",
        # Nothing derived from what the tool can see drops the three columns.
        rollback_complete=False,
        # Info: the file is one transaction, so a failure leaves nothing for the retry to collide with.
        lint_infos={"add-column-without-if-not-exists"},
        lint_absent={"syntax-error"},
        bugs={
            "effects": "EXECUTE format(…) in a loop is invisible to the tool, which reports no effects instead of saying it cannot tell",
            "lint_infos": "the lint cannot see into SQL run through EXECUTE format(…) either: it reports dynamic-sql, not the ADD COLUMN without IF NOT EXISTS inside",
        },
    ),
    "45_patient_allergies_guarded": Expected(
        transactional=True,
        idempotent=True,
        reversible=True,
        effects={
            ("create", "column", "Patient.allergies"),
            ("create", "constraint", "Patient.Patient_allergies_limit"),
            ("create", "index", "Patient.Patient_allergies_idx"),
        },
        rollback_source="derived",
        rollback_complete=True,
        lint_warnings={"add-check-without-not-valid", "index-without-concurrently"},
        lint_absent={
            "add-column-without-if-not-exists",
            "add-constraint-without-guard",
            "create-index-without-if-not-exists",
        },
    ),
    "46_drop_unused_order_index": Expected(
        # A failed DROP INDEX CONCURRENTLY can leave the index behind marked INVALID.
        transactional=False,
        idempotent=True,
        reversible=False,
        effects={("drop", "index", "Order_patientId_idx")},
        rollback_source="derived",
        rollback_complete=False,
        lint_absent={
            "concurrently-in-transaction",
            "drop-index-without-concurrently",
            "drop-without-if-exists",
        },
    ),
    "47_product_defaults": Expected(
        transactional=True,
        idempotent=True,
        reversible=False,
        effects={
            ("alter", "column", "Product.isActive"),
            ("alter", "column", "Product.description"),
            ("alter", "column", "Appointment.providerDisplayName"),
        },
        rollback_source="derived",
        rollback_complete=False,
        # TEXT (04_products_and_orders) to VARCHAR(5000) narrows, but this file does not say what
        # the column was: narrowing-type-change is not expected of a lint that reads one file.
        lint_warnings={"column-type-change"},
        # The old release's Prisma Client fails on the NULLs the new one may write (P2032).
        lint_infos={"drop-not-null"},
        lint_absent={"add-not-null-without-default", "drop-column-default"},
    ),
    "48_payment_reference": Expected(
        transactional=True,
        idempotent=True,
        reversible=True,
        effects={
            ("create", "column", "Order.paymentReference"),
            ("create", "index", "Order.Order_paymentReference_key"),
        },
        rollback_source="section",
        rollback_complete=True,
        lint_warnings={"index-without-concurrently"},
        lint_absent={
            "add-column-without-if-not-exists",
            "create-index-without-if-not-exists",
            "missing-rollback-section",
            "rollback-does-not-parse",
            "rollback-not-executable",
        },
    ),
}
