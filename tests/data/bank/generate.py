"""Writes the statements of tests/e2e/bank_samples.rs with a third-party camt
library, pyiso20022 (MIT), whose classes are generated from the ISO 20022
XSDs and serialised by xsdata: a camt.054.001.08 of Monday's credits and the
camt.053.001.02 of Monday and Tuesday, which repeats Monday's credits, and
the book of invoices they pay. The outputs are committed: the test reads them
and needs none of this.

    python3 -m venv /tmp/camtgen
    /tmp/camtgen/bin/pip install pyiso20022==1.6.2 xsdata[lxml]==26.10
    /tmp/camtgen/bin/python tests/data/bank/generate.py

What the statements pay, worked out by hand (the test asserts it):

- FT-2026/2001 (Alfa, 1500.00): paid on Monday by its RF reference: paid.
- FT-2026/2002 (Beta, 2200.00): 1000.00 on Monday by its RF reference, the
  1200.00 left on Tuesday naming its number in the words: paid.
- FT-2026/2003 (Gamma, 800.00) and FT-2026/2004 (Delta, 3000.00): a batch on
  Tuesday of 800.00 naming 2003 and 1250.00 naming 2004: 2003 paid, 2004 open
  with 1750.00 owed.
- FT-2026/2005 (Alfa, 640.00): nothing comes: open, 640.00 owed.
- 75.00 from Mario Bianchi, "rimborso spese trasferta", with no reference of
  the bank's nor the debtor's: unmatched, once.
- 45.00 of the bank's fees out: a debit.
"""

import json
from decimal import Decimal
from pathlib import Path

from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDate, XmlDateTime

import pyiso20022.camt.camt_053_001_02.camt_053_001_02 as v02
import pyiso20022.camt.camt_054_001_08.camt_054_001_08 as v08

OUT = Path(__file__).resolve().parent / "generated"
ACCOUNT = "IT60X0542811101000000123456"

CUSTOMERS = [
    ("cus-alfa", "Alfa Costruzioni S.r.l."),
    ("cus-beta", "Beta Logistica S.p.A."),
    ("cus-gamma", "Gamma Servizi S.n.c."),
    ("cus-delta", "Delta Arredi S.r.l."),
]
INVOICES = [
    ("inv-2001", "FT-2026/2001", "cus-alfa", "1500.00"),
    ("inv-2002", "FT-2026/2002", "cus-beta", "2200.00"),
    ("inv-2003", "FT-2026/2003", "cus-gamma", "800.00"),
    ("inv-2004", "FT-2026/2004", "cus-delta", "3000.00"),
    ("inv-2005", "FT-2026/2005", "cus-alfa", "640.00"),
]


def creditor_reference(number: str) -> str:
    """ISO 11649: RF, two check digits (mod 97 of the body with RF00 moved to
    its end, letters as 10 to 35), the body: the number's letters and digits."""
    body = "".join(c for c in number if c.isalnum()).upper()
    digits = "".join(str(int(c, 36)) for c in body + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{body}"


# Each credit or debit: (day, bank reference of the entry or None, NtryRef,
# [(transaction's bank reference, end-to-end id, amount, debtor, words, RF)], debit?)
MONDAY = [
    ("2026-11-02", "BK26-1102-0001", "1", [(None, "ALFA-2001", "1500.00", "ALFA COSTRUZIONI SRL", None, "FT-2026/2001")], False),
    ("2026-11-02", None, "2", [(None, "BETA-PAY-77", "1000.00", "BETA LOGISTICA SPA", None, "FT-2026/2002")], False),
    ("2026-11-02", None, "3", [(None, None, "75.00", "Mario Bianchi", "rimborso spese trasferta", None)], False),
]
TUESDAY = [
    ("2026-11-03", "BK26-1103-0001", "4", [(None, "BETA-PAY-78", "1200.00", "BETA LOGISTICA SPA", "saldo fattura FT-2026/2002", None)], False),
    (
        "2026-11-03",
        "BK26-1103-0002",
        "5",
        [
            ("BK26-1103-0002-1", "GAMMA-0311", "800.00", "Gamma Servizi snc", "Pagamento fatt. FT-2026/2003", None),
            ("BK26-1103-0002-2", None, "1250.00", "DELTA ARREDI", "acconto FT-2026/2004", None),
        ],
        False,
    ),
    ("2026-11-03", "BK26-1103-0003", "6", [(None, None, "45.00", None, "commissioni tenuta conto", None)], True),
]


def serialise(document, namespace: str) -> str:
    config = SerializerConfig(indent="  ", xml_declaration=True, encoding="UTF-8")
    return XmlSerializer(config=config).render(document, ns_map={None: namespace}) + "\n"


def notification_08() -> str:
    """Monday evening's camt.054.001.08: Monday's credits (NtryRef numbered from 1)."""
    m = v08

    def tx(bank_ref, e2e, amount, debtor, words, invoice):
        rmt = m.RemittanceInformation16(ustrd=[words] if words else [])
        if invoice:
            kind = m.CreditorReferenceType1Choice(cd=m.DocumentType3Code.SCOR)
            ref = m.CreditorReferenceInformation2(tp=m.CreditorReferenceType2(cd_or_prtry=kind), ref=creditor_reference(invoice))
            rmt.strd.append(m.StructuredRemittanceInformation16(cdtr_ref_inf=ref))
        parties = m.TransactionParties6(dbtr=m.Party40Choice(pty=m.PartyIdentification135(nm=debtor))) if debtor else None
        return m.EntryTransaction10(
            refs=m.TransactionReferences6(acct_svcr_ref=bank_ref, end_to_end_id=e2e or "NOTPROVIDED"),
            amt=m.ActiveOrHistoricCurrencyAndAmount(value=Decimal(amount), ccy="EUR"),
            cdt_dbt_ind=m.CreditDebitCode.CRDT,
            rltd_pties=parties,
            rmt_inf=rmt,
        )

    entries = []
    for n, (day, bank_ref, _, txs, debit) in enumerate(MONDAY, start=1):
        total = sum(Decimal(t[2]) for t in txs)
        entries.append(
            m.ReportEntry10(
                ntry_ref=str(n),
                amt=m.ActiveOrHistoricCurrencyAndAmount(value=total, ccy="EUR"),
                cdt_dbt_ind=m.CreditDebitCode.DBIT if debit else m.CreditDebitCode.CRDT,
                sts=m.EntryStatus1Choice(cd="BOOK"),
                bookg_dt=m.DateAndDateTime2Choice(dt=XmlDate.from_string(day)),
                val_dt=m.DateAndDateTime2Choice(dt=XmlDate.from_string(day)),
                acct_svcr_ref=bank_ref,
                bk_tx_cd=m.BankTransactionCodeStructure4(
                    domn=m.BankTransactionCodeStructure5(
                        cd="PMNT", fmly=m.BankTransactionCodeStructure6(cd="RCDT", sub_fmly_cd="ESCT")
                    )
                ),
                ntry_dtls=[m.EntryDetails9(tx_dtls=[tx(*t) for t in txs])],
            )
        )
    notification = m.AccountNotification17(
        id="NTF-2026-11-02",
        cre_dt_tm=XmlDateTime.from_string("2026-11-02T18:00:00+01:00"),
        acct=m.CashAccount39(id=m.AccountIdentification4Choice(iban=ACCOUNT), ccy="EUR"),
        ntry=entries,
    )
    header = m.GroupHeader81(msg_id="NTF-2026-11-02", cre_dt_tm=XmlDateTime.from_string("2026-11-02T18:00:00+01:00"))
    document = m.Document(bk_to_cstmr_dbt_cdt_ntfctn=m.BankToCustomerDebitCreditNotificationV08(grp_hdr=header, ntfctn=[notification]))
    return serialise(document, "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08")


def statement_02() -> str:
    """Wednesday morning's camt.053.001.02 of Monday and Tuesday (NtryRef numbered on)."""
    m = v02

    def tx(bank_ref, e2e, amount, debtor, words, invoice, batch):
        rmt = m.RemittanceInformation5(ustrd=[words] if words else [])
        if invoice:
            kind = m.CreditorReferenceType1Choice(cd=m.DocumentType3Code.SCOR)
            ref = m.CreditorReferenceInformation2(tp=m.CreditorReferenceType2(cd_or_prtry=kind), ref=creditor_reference(invoice))
            rmt.strd.append(m.StructuredRemittanceInformation7(cdtr_ref_inf=ref))
        money = m.ActiveOrHistoricCurrencyAndAmount(value=Decimal(amount), ccy="EUR")
        # Version 02 says a transaction's amount under AmtDtls/TxAmt (a batch's, here).
        details = m.AmountAndCurrencyExchange3(tx_amt=m.AmountAndCurrencyExchangeDetails3(amt=money)) if batch else None
        return m.EntryTransaction2(
            refs=m.TransactionReferences2(acct_svcr_ref=bank_ref, end_to_end_id=e2e or "NOTPROVIDED"),
            amt_dtls=details,
            rltd_pties=m.TransactionParty2(dbtr=m.PartyIdentification32(nm=debtor)) if debtor else None,
            rmt_inf=rmt,
        )

    entries = []
    for day, bank_ref, ntry_ref, txs, debit in MONDAY + TUESDAY:
        total = sum(Decimal(t[2]) for t in txs)
        family = ("ACMT", "MDOP", "CHRG") if debit else ("PMNT", "RCDT", "ESCT")
        entries.append(
            m.ReportEntry2(
                # Numbered on from the first of the month's statements: not Monday's notification's numbers.
                ntry_ref=f"0311-{ntry_ref}",
                amt=m.ActiveOrHistoricCurrencyAndAmount(value=total, ccy="EUR"),
                cdt_dbt_ind=m.CreditDebitCode.DBIT if debit else m.CreditDebitCode.CRDT,
                sts=m.EntryStatus2Code.BOOK,
                bookg_dt=m.DateAndDateTimeChoice(dt=XmlDate.from_string(day)),
                val_dt=m.DateAndDateTimeChoice(dt=XmlDate.from_string(day)),
                acct_svcr_ref=bank_ref,
                bk_tx_cd=m.BankTransactionCodeStructure4(
                    domn=m.BankTransactionCodeStructure5(
                        cd=family[0], fmly=m.BankTransactionCodeStructure6(cd=family[1], sub_fmly_cd=family[2])
                    )
                ),
                ntry_dtls=[m.EntryDetails1(tx_dtls=[tx(*t, len(txs) > 1) for t in txs])],
            )
        )
    opening, credits, debits = Decimal("10000.00"), Decimal("0"), Decimal("0")
    for _, _, _, txs, debit in MONDAY + TUESDAY:
        total = sum(Decimal(t[2]) for t in txs)
        if debit:
            debits += total
        else:
            credits += total

    def balance(code, amount, day):
        return m.CashBalance3(
            tp=m.BalanceType12(cd_or_prtry=m.BalanceType5Choice(cd=code)),
            amt=m.ActiveOrHistoricCurrencyAndAmount(value=amount, ccy="EUR"),
            cdt_dbt_ind=m.CreditDebitCode.CRDT,
            dt=m.DateAndDateTimeChoice(dt=XmlDate.from_string(day)),
        )

    statement = m.AccountStatement2(
        id="STMT-2026-11-03",
        elctrnc_seq_nb=Decimal(306),
        cre_dt_tm=XmlDateTime.from_string("2026-11-04T06:00:00+01:00"),
        acct=m.CashAccount20(id=m.AccountIdentification4Choice(iban=ACCOUNT), ccy="EUR"),
        bal=[
            balance(m.BalanceType12Code.OPBD, opening, "2026-11-01"),
            balance(m.BalanceType12Code.CLBD, opening + credits - debits, "2026-11-03"),
        ],
        ntry=entries,
    )
    header = m.GroupHeader42(msg_id="STMT-2026-11-03", cre_dt_tm=XmlDateTime.from_string("2026-11-04T06:00:00+01:00"))
    document = m.Document(bk_to_cstmr_stmt=m.BankToCustomerStatementV02(grp_hdr=header, stmt=[statement]))
    return serialise(document, "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02")


def book() -> str:
    customers = [
        {"id": c, "name": name, "email": f"{c}@example.it", "locale": "it-IT", "timezone": "Europe/Rome", "business": True}
        for c, name in CUSTOMERS
    ]
    invoices = [
        {
            "id": i,
            "number": number,
            "customer": c,
            "currency": "EUR",
            "amount_due": amount,
            "issued": "2026-10-01",
            "due": "2026-10-31",
            "payment_link": f"https://pay.example/{i}",
        }
        for i, number, c, amount in INVOICES
    ]
    return json.dumps({"customers": customers, "invoices": invoices}, indent=2) + "\n"


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    (OUT / "book.json").write_text(book())
    (OUT / "camt054-monday.xml").write_text(notification_08())
    (OUT / "camt053-monday-tuesday.xml").write_text(statement_02())
    for number in [n for _, n, _, _ in INVOICES]:
        print(number, creditor_reference(number))
