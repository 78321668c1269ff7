-- CreateTable
CREATE TABLE "PatientInsurance" (
    "id" TEXT NOT NULL,
    "patientId" TEXT NOT NULL,
    "payerName" TEXT NOT NULL,
    "memberID" TEXT NOT NULL,
    "groupNumber" TEXT,
    "isPrimary" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "PatientInsurance_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "PatientInsurance_patientId_memberID_key" ON "PatientInsurance"("patientId", "memberID");

-- AddForeignKey
ALTER TABLE "PatientInsurance" ADD CONSTRAINT "PatientInsurance_patientId_fkey" FOREIGN KEY ("patientId") REFERENCES "Patient"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Payer lookups from the eligibility checker ignore case. Added by hand; the index name is not
-- quoted, so PostgreSQL stores it in lower case.
CREATE INDEX PatientInsurance_payerName_lower_idx ON "PatientInsurance" (lower("payerName"));
