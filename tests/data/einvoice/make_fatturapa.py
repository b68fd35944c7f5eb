#!/usr/bin/env python3
"""Writes FatturaPA files with a third-party library (a38, `pip install a38`),
so the reader's tests see documents it did not write itself:

- IT02345678901_00017.xml: an invoice (FPR12, TD01) paid in two instalments by bank transfer;
- IT02345678901_00018.xml: the credit note (TD04) of part of it;
- IT02345678901_00019.xml: an invoice to a public administration (FPA12) under split
  payment, whose one instalment is the total less the VAT the administration pays the state.

Run from this folder: python3 make_fatturapa.py (a38 0.1.8 made the committed files).
The Rust tests read the files; this script is only how they were made.
"""

import datetime
import sys
from decimal import Decimal

import a38
from a38.validation import Validation

SELLER = a38.CedentePrestatore(
    a38.DatiAnagraficiCedentePrestatore(
        a38.IdFiscaleIVA("IT", "02345678901"),
        anagrafica=a38.Anagrafica(denominazione="Officine Sollecito S.r.l."),
        regime_fiscale="RF01",
    ),
    a38.Sede(indirizzo="Via Roma", numero_civico="10", cap="50123", comune="Firenze", provincia="FI", nazione="IT"),
)

BUYER = a38.CessionarioCommittente(
    a38.DatiAnagraficiCessionarioCommittente(
        a38.IdFiscaleIVA("IT", "07654321098"),
        anagrafica=a38.Anagrafica(denominazione="Rossi Impianti S.p.A."),
    ),
    a38.Sede(indirizzo="Via Garibaldi", numero_civico="7", cap="20121", comune="Milano", provincia="MI", nazione="IT"),
)

ADMINISTRATION = a38.CessionarioCommittente(
    a38.DatiAnagraficiCessionarioCommittente(
        codice_fiscale="80012345678",
        anagrafica=a38.Anagrafica(denominazione="Comune di Prato"),
    ),
    a38.Sede(indirizzo="Piazza del Comune", numero_civico="2", cap="59100", comune="Prato", provincia="PO", nazione="IT"),
)

IBAN = "IT60X0542811101000000123456"


def start(kind, buyer, code):
    fattura = kind()
    header = fattura.fattura_elettronica_header
    header.dati_trasmissione.id_trasmittente = a38.IdTrasmittente("IT", "02345678901")
    header.dati_trasmissione.progressivo_invio = "00017"
    header.dati_trasmissione.codice_destinatario = code
    header.cedente_prestatore = SELLER
    header.cessionario_committente = buyer
    return fattura


def lines(body, *items):
    for description, quantity, price in items:
        body.dati_beni_servizi.add_dettaglio_linee(
            descrizione=description, quantita=quantity, unita_misura="pz", prezzo_unitario=price, aliquota_iva="22.00"
        )
    body.dati_beni_servizi.build_dati_riepilogo()
    body.build_importo_totale_documento()


def pay(body, condition, *instalments):
    details = [
        a38.DettaglioPagamento(
            modalita_pagamento="MP05", data_scadenza_pagamento=due, importo_pagamento=amount, iban=IBAN
        )
        for due, amount in instalments
    ]
    body.dati_pagamento.append(a38.DatiPagamento(condizioni_pagamento=condition, dettaglio_pagamento=details))


def invoice_in_two_instalments():
    fattura = start(a38.FatturaPrivati12, BUYER, "KRRH6B9")
    body = fattura.fattura_elettronica_body[0]
    body.dati_generali.dati_generali_documento = a38.DatiGeneraliDocumento(
        tipo_documento="TD01", divisa="EUR", data=datetime.date(2026, 3, 2), numero="2026/17", causale=["Fornitura"]
    )
    # 2 x 450.00 + 1 x 100.00 = 1000.00, VAT 22% 220.00: 1220.00 in two instalments.
    lines(body, ("Valvola a sfera DN50", 2, "450.00"), ("Posa in opera", 1, "100.00"))
    pay(body, "TP01", (datetime.date(2026, 5, 31), Decimal("610.00")), (datetime.date(2026, 4, 1), Decimal("610.00")))
    return fattura


def credit_note():
    fattura = start(a38.FatturaPrivati12, BUYER, "KRRH6B9")
    fattura.fattura_elettronica_header.dati_trasmissione.progressivo_invio = "00018"
    body = fattura.fattura_elettronica_body[0]
    body.dati_generali.dati_generali_documento = a38.DatiGeneraliDocumento(
        tipo_documento="TD04", divisa="EUR", data=datetime.date(2026, 3, 9), numero="2026/NC3", causale=["Reso"]
    )
    body.dati_generali.dati_fatture_collegate.append(
        a38.DatiFattureCollegate(id_documento="2026/17", data=datetime.date(2026, 3, 2))
    )
    # One valve back: 450.00 and VAT 99.00.
    lines(body, ("Reso valvola a sfera DN50", 1, "450.00"))
    return fattura


def split_payment_invoice():
    fattura = start(a38.FatturaPA12, ADMINISTRATION, "UFXY12")
    fattura.fattura_elettronica_header.dati_trasmissione.progressivo_invio = "00019"
    body = fattura.fattura_elettronica_body[0]
    body.dati_generali.dati_generali_documento = a38.DatiGeneraliDocumento(
        tipo_documento="TD01", divisa="EUR", data=datetime.date(2026, 3, 10), numero="2026/19", causale=["Manutenzione"]
    )
    lines(body, ("Manutenzione impianto", 1, "500.00"))
    # Split payment: the administration pays the 110.00 of VAT to the state, 500.00 to the seller.
    body.dati_beni_servizi.dati_riepilogo[0].esigibilita_iva = "S"
    pay(body, "TP02", (datetime.date(2026, 4, 9), Decimal("500.00")))
    return fattura


def write(fattura, name):
    validation = Validation()
    fattura.validate(validation)
    for problem in validation.warnings + validation.errors:
        print(f"{name}: {problem}", file=sys.stderr)
    if validation.errors:
        sys.exit(1)
    with open(name, "wb") as out:
        fattura.build_etree().write(out, encoding="utf-8", xml_declaration=True)


if __name__ == "__main__":
    write(invoice_in_two_instalments(), "IT02345678901_00017.xml")
    write(credit_note(), "IT02345678901_00018.xml")
    write(split_payment_invoice(), "IT02345678901_00019.xml")
