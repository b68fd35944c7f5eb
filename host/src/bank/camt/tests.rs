use super::*;

/// A camt.053.001.08 written here by hand from the standard's structure:
/// a credit with an RF reference, a batch of two transfers, a debit.
pub(crate) const STATEMENT_08: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>STMT-2026-12-08</MsgId><CreDtTm>2026-12-08T06:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>1</Id>
   <Acct><Id><IBAN>IT60X0542811101000000123456</IBAN></Id></Acct>
   <Ntry>
    <NtryRef>N1</NtryRef>
    <Amt Ccy="EUR">1250.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2026-12-07</Dt></BookgDt>
    <AcctSvcrRef>BANK-0001</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <Refs><EndToEndId>E2E-ROSSI-1</EndToEndId></Refs>
     <RltdPties><Dbtr><Pty><Nm>Rossi Impianti S.r.l.</Nm></Pty></Dbtr>
      <DbtrAcct><Id><IBAN>it02a0300203280000400162854</IBAN></Id></DbtrAcct></RltdPties>
     <RmtInf><Strd><CdtrRefInf><Ref>RF52 FT20 2610 01</Ref></CdtrRefInf></Strd></RmtInf>
    </TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">300.50</Amt><CdtDbtInd>CRDT</CdtDbtInd>
    <BookgDt><DtTm>2026-12-07T10:00:00</DtTm></BookgDt>
    <AcctSvcrRef>BANK-0002</AcctSvcrRef>
    <NtryDtls>
     <TxDtls><Refs><AcctSvcrRef>BANK-0002-A</AcctSvcrRef></Refs><Amt Ccy="EUR">200.00</Amt>
      <RmtInf><Ustrd>saldo fatt. 2026/1002</Ustrd><Ustrd>grazie</Ustrd></RmtInf></TxDtls>
     <TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><Amt Ccy="EUR">100.5</Amt>
      <RmtInf><Ustrd>rif. 1003 &amp; altro</Ustrd></RmtInf></TxDtls>
    </NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">80.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><AcctSvcrRef>BANK-0003</AcctSvcrRef>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>"#;

fn entries(xml: &str) -> Result<(Header, Vec<Entry>), Refused> {
    let mut out = vec![];
    let header = read(xml.as_bytes(), |e| {
        out.push(e);
        Ok(())
    })?;
    Ok((header, out))
}

#[test]
fn a_statement_of_version_08_reads_entry_by_entry() {
    let (header, got) = entries(STATEMENT_08).unwrap();
    assert_eq!((header.kind.as_str(), header.message_id.as_str()), ("camt.053.001.08", "STMT-2026-12-08"));
    assert_eq!(got.len(), 4);
    let first = &got[0];
    assert_eq!(
        (first.key.as_str(), first.amount, first.currency.as_str(), first.credit),
        ("AcctSvcrRef:BANK-0001", 125_000, "EUR", true)
    );
    assert_eq!(first.booked, NaiveDate::from_ymd_opt(2026, 12, 7));
    assert_eq!(first.debtor.as_deref(), Some("Rossi Impianti S.r.l."));
    assert_eq!(first.debtor_iban.as_deref(), Some("IT02A0300203280000400162854"));
    assert_eq!(first.references, ["RF52 FT20 2610 01"]);
    assert_eq!(first.end_to_end.as_deref(), Some("E2E-ROSSI-1"));
    // The batch: two transactions, each with its own amount and words; the second named by the entry's reference.
    assert_eq!(
        (got[1].key.as_str(), got[1].amount, got[1].remittance.as_str()),
        ("AcctSvcrRef:BANK-0002-A", 20_000, "saldo fatt. 2026/1002 grazie")
    );
    assert_eq!(
        (got[2].key.as_str(), got[2].amount, got[2].remittance.as_str()),
        ("AcctSvcrRef:BANK-0002#2", 10_050, "rif. 1003 & altro")
    );
    assert_eq!(got[2].booked, NaiveDate::from_ymd_opt(2026, 12, 7));
    assert!(got[1].credit && got[2].credit);
    assert_eq!((got[3].key.as_str(), got[3].credit), ("AcctSvcrRef:BANK-0003", false));
}

#[test]
fn version_02_gives_a_transactions_amount_under_its_details_and_the_debtor_without_pty() {
    let xml = STATEMENT_08
        .replace("camt.053.001.08", "camt.053.001.02")
        .replace(
            "<Dbtr><Pty><Nm>Rossi Impianti S.r.l.</Nm></Pty></Dbtr>",
            "<Dbtr><Nm>Rossi Impianti S.r.l.</Nm></Dbtr>",
        )
        .replace("<Amt Ccy=\"EUR\">200.00</Amt>", "<AmtDtls><TxAmt><Amt Ccy=\"EUR\">200.00</Amt></TxAmt></AmtDtls>");
    let (header, got) = entries(&xml).unwrap();
    assert_eq!(header.kind, "camt.053.001.02");
    assert_eq!(got[0].debtor.as_deref(), Some("Rossi Impianti S.r.l."));
    assert_eq!(got[1].amount, 20_000);
}

#[test]
fn what_is_not_a_sound_statement_is_refused_with_where() {
    let refused = |xml: &str| entries(xml).unwrap_err();
    let bomb = format!("<!DOCTYPE d [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>{STATEMENT_08}");
    assert!(refused(&bomb).reason.contains("DTD"), "{:?}", refused(&bomb));
    let xxe =
        STATEMENT_08.replacen("<Document", "<!DOCTYPE Document SYSTEM \"http://evil.example/x.dtd\"><Document", 1);
    assert!(refused(&xxe).reason.contains("DTD"));
    let other = STATEMENT_08.replace("camt.053.001.08", "pain.001.001.09");
    assert_eq!(refused(&other).path, "Document@xmlns");
    let too_new = STATEMENT_08.replace("camt.053.001.08", "camt.053.001.13");
    assert_eq!(refused(&too_new).path, "Document@xmlns");
    let decimals = STATEMENT_08.replace("1250.00", "1250.001");
    let r = refused(&decimals);
    assert!(r.path.ends_with("Ntry[1]") && r.reason.contains("more decimals"), "{r:?}");
    let negative = STATEMENT_08.replace("1250.00", "-1250.00");
    assert!(refused(&negative).reason.contains("not an amount"));
    let zero = STATEMENT_08.replace(">80.00<", ">0.00<");
    assert!(refused(&zero).reason.contains("not a positive amount"));
    let deep = format!("{}{}{}", "<a>".repeat(40), "x", "</a>".repeat(40));
    let deep = STATEMENT_08.replace("<Id>1</Id>", &format!("<Id>{deep}</Id>"));
    assert!(refused(&deep).reason.contains("nested deeper"));
    assert_eq!(
        refused("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><Stmt>").path,
        "Document/Stmt"
    );
    assert!(refused("not xml at all").reason.contains("camt"));
    // A batch whose transactions claim more than the account moved (300.50): refused, naming the entry.
    let inflated = STATEMENT_08.replacen("<Amt Ccy=\"EUR\">200.00</Amt>", "<Amt Ccy=\"EUR\">2000.00</Amt>", 1);
    let r = refused(&inflated);
    assert!(r.path.ends_with("Ntry[2]") && r.reason.contains("add up to 2100.50 EUR, the entry to 300.50"), "{r:?}");
    // A raw NUL byte (quick-xml passes it; PostgreSQL would refuse it mid-import): refused where it is.
    let nul = STATEMENT_08.replacen("<Ustrd>", "<Ustrd>\0", 1);
    let r = refused(&nul);
    assert!(r.reason.contains("NUL") && r.path.contains("Ustrd"), "{r:?}");
}

#[test]
fn amounts_are_read_in_minor_units_of_their_currency() {
    assert_eq!(minor("1250.5", "EUR"), Ok(125_050));
    assert_eq!(minor("1250", "EUR"), Ok(125_000));
    assert_eq!(minor("5000", "JPY"), Ok(5_000));
    assert!(minor("5000.5", "JPY").is_err());
    assert_eq!(minor("1.250", "KWD"), Ok(1_250));
    assert!(minor("1e3", "EUR").is_err() && minor("", "EUR").is_err() && minor("1.", "EUR").is_ok());
    assert!(minor("10", "XYZ").is_err());
    assert!(minor("99999999999999999999", "EUR").is_err());
}

/// A statement of the Italian banks' CBI standard (daily, `CBIDlyStmtReqLogMsg`
/// 00.01.02, a camt.053.001.02 inside), written here by hand after its
/// structure: `NtryRef` numbers the day's entries from 1, the bank's reference
/// is the transaction's, the transfer's reason may come only in `AddtlTxInf`.
fn cbi_statement(day: &str, entries: &str) -> String {
    format!(
        "<DLY:GrpHdr><DLY:MsgId>RH-{day}</DLY:MsgId><DLY:CreDtTm>{day}T23:40:00</DLY:CreDtTm></DLY:GrpHdr>\
         <DLY:Stmt><DLY:Id>0000012345-{day}</DLY:Id><DLY:ElctrncSeqNb>1</DLY:ElctrncSeqNb>\
         <DLY:Acct><DLY:Id><DLY:IBAN>IT60X0542811101000000123456</DLY:IBAN></DLY:Id><DLY:Ccy>EUR</DLY:Ccy></DLY:Acct>\
         <DLY:Bal><DLY:Tp><DLY:CdOrPrtry><DLY:Cd>OPBD</DLY:Cd></DLY:CdOrPrtry></DLY:Tp><DLY:Amt Ccy=\"EUR\">100.00</DLY:Amt>\
         <DLY:CdtDbtInd>CRDT</DLY:CdtDbtInd><DLY:Dt><DLY:Dt>{day}</DLY:Dt></DLY:Dt></DLY:Bal>{entries}</DLY:Stmt>"
    )
}

/// An entry of a CBI statement: (NtryRef, amount, side, bank reference, debtor, Ustrd, AddtlTxInf).
fn cbi_entry(
    day: &str,
    (n, amount, side, bank, debtor, words, info): (u32, &str, &str, &str, &str, &str, &str),
) -> String {
    let refs = if bank.is_empty() {
        String::new()
    } else {
        format!("<DLY:Refs><DLY:AcctSvcrRef>{bank}</DLY:AcctSvcrRef></DLY:Refs>")
    };
    let words = if words.is_empty() {
        String::new()
    } else {
        format!("<DLY:RmtInf><DLY:Ustrd>{words}</DLY:Ustrd></DLY:RmtInf>")
    };
    format!(
        "<DLY:Ntry><DLY:NtryRef>{n}</DLY:NtryRef><DLY:Amt Ccy=\"EUR\">{amount}</DLY:Amt><DLY:CdtDbtInd>{side}</DLY:CdtDbtInd>\
         <DLY:Sts>BOOK</DLY:Sts><DLY:BookgDt><DLY:Dt>{day}+01:00</DLY:Dt></DLY:BookgDt><DLY:ValDt><DLY:Dt>{day}</DLY:Dt></DLY:ValDt>\
         <DLY:BkTxCd><DLY:Prtry><DLY:Cd>48</DLY:Cd><DLY:Issr>CBI</DLY:Issr></DLY:Prtry></DLY:BkTxCd>\
         <DLY:NtryDtls><DLY:TxDtls>{refs}<DLY:AmtDtls><DLY:InstdAmt><DLY:Amt Ccy=\"EUR\">{amount}</DLY:Amt></DLY:InstdAmt></DLY:AmtDtls>\
         <DLY:RltdPties><DLY:Dbtr><DLY:Nm>{debtor}</DLY:Nm></DLY:Dbtr></DLY:RltdPties>{words}\
         <DLY:AddtlTxInf>{info}</DLY:AddtlTxInf></DLY:TxDtls></DLY:NtryDtls></DLY:Ntry>"
    )
}

/// Two days' statements in one CBI envelope (`CBIBdyBkToCstmrStmtReq`), each entry numbered from 1.
fn cbi_envelope(version: &str) -> String {
    let monday = [
        (1, "1250.00", "CRDT", "0023000597", "ROSSI IMPIANTI SRL", "SALDO FT-2026/1001", "BONIFICO SEPA DA ROSSI"),
        (2, "300.00", "CRDT", "", "BIANCHI E FIGLI", "", "BONIFICO A VS FAVORE CAUSALE FATT. 1002"),
    ];
    let tuesday = [
        (1, "80.00", "DBIT", "", "", "", "COMMISSIONI"),
        (2, "300.00", "CRDT", "", "VERDI MARIO", "", "BONIFICO A VS FAVORE RIF. 1003"),
    ];
    let statement = |day: &str, entries: &[(u32, &str, &str, &str, &str, &str, &str)]| {
        let entries: String = entries.iter().map(|e| cbi_entry(day, *e)).collect();
        format!(
            "<BDY:CBIEnvelBkToCstmrStmtReqLogMsg><BDY:CBIBkToCstmrStmtReqLogMsg><LMSG:CBIDlyStmtReqLogMsg>{}\
             </LMSG:CBIDlyStmtReqLogMsg></BDY:CBIBkToCstmrStmtReqLogMsg></BDY:CBIEnvelBkToCstmrStmtReqLogMsg>",
            cbi_statement(day, &entries)
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BDY:CBIBdyBkToCstmrStmtReq \
         xmlns:BDY=\"urn:CBI:xsd:CBIBdyBkToCstmrStmtReq.{version}\" \
         xmlns:LMSG=\"urn:CBI:xsd:CBIBkToCstmrStmtReqLogMsg.00.01.02\" xmlns:DLY=\"urn:CBI:xsd:CBIDlyStmtReqLogMsg.00.01.02\">\
         <BDY:PhyMsgInf><BDY:PhyMsgTpCd>INF-STMT-01</BDY:PhyMsgTpCd><BDY:NbOfLogMsg>2</BDY:NbOfLogMsg></BDY:PhyMsgInf>{}{}\
         </BDY:CBIBdyBkToCstmrStmtReq>",
        statement("2026-11-02", &monday),
        statement("2026-11-03", &tuesday)
    )
}

#[test]
fn a_cbi_statement_in_its_envelope_reads_as_the_camt_053_inside() {
    let (header, got) = entries(&cbi_envelope("00.01.02")).unwrap();
    assert_eq!(
        (header.kind.as_str(), header.message_id.as_str()),
        ("CBIBdyBkToCstmrStmtReq.00.01.02", "RH-2026-11-02")
    );
    assert_eq!(got.len(), 4);
    let rossi = &got[0];
    assert_eq!((rossi.key.as_str(), rossi.amount, rossi.credit), ("AcctSvcrRef:0023000597", 125_000, true));
    assert_eq!(
        (rossi.debtor.as_deref(), rossi.booked),
        (Some("ROSSI IMPIANTI SRL"), NaiveDate::from_ymd_opt(2026, 11, 2))
    );
    assert_eq!(rossi.remittance, "SALDO FT-2026/1001", "the Ustrd, not the bank's words");
    // No Ustrd: the reason the bank wrote is the remittance.
    assert_eq!(got[1].remittance, "BONIFICO A VS FAVORE CAUSALE FATT. 1002");
    // NtryRef 2 on Monday and NtryRef 2 on Tuesday are two credits, not one.
    assert!(got[1].key.starts_with("Ntry:2026-11-02/") && got[3].key.starts_with("Ntry:2026-11-03/"), "{got:?}");
    let keys: std::collections::HashSet<&str> = got.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!((got[2].credit, got[2].amount), (false, 8_000));

    // The daily statement alone, its namespace the default one.
    let alone = format!(
        "<CBIDlyStmtReqLogMsg xmlns=\"urn:CBI:xsd:CBIDlyStmtReqLogMsg.00.01.02\">{}</CBIDlyStmtReqLogMsg>",
        cbi_statement("2026-11-02", &cbi_entry("2026-11-02", (1, "10.00", "CRDT", "R1", "X", "", "Y")))
    )
    .replace("DLY:", "");
    let (header, got) = entries(&alone).unwrap();
    assert_eq!(
        (header.kind.as_str(), got.len(), got[0].key.as_str()),
        ("CBIDlyStmtReqLogMsg.00.01.02", 1, "AcctSvcrRef:R1")
    );
}

#[test]
fn a_cbi_message_of_another_kind_or_version_is_refused_at_its_root() {
    let refused = |xml: &str| entries(xml).unwrap_err();
    let r = refused(&cbi_envelope("00.01"));
    assert_eq!(r.path, "CBIBdyBkToCstmrStmtReq@xmlns", "{r:?}");
    let other = cbi_envelope("00.01.02").replace("CBIBdyBkToCstmrStmtReq", "CBIBdySDDReq");
    let r = refused(&other);
    assert!(r.path == "Document@xmlns" && r.reason.contains("CBIBdySDDReq"), "{r:?}");
    // The namespace of another root: the envelope's elements named by the statement's.
    let swapped = cbi_envelope("00.01.02").replacen(
        "urn:CBI:xsd:CBIBdyBkToCstmrStmtReq.00.01.02",
        "urn:CBI:xsd:CBIDlyStmtReqLogMsg.00.01.02",
        1,
    );
    assert_eq!(refused(&swapped).path, "CBIBdyBkToCstmrStmtReq@xmlns");
}

#[test]
fn a_namespace_bound_to_a_prefix_and_the_austrian_one_read_alike() {
    let plain = entries(STATEMENT_08).unwrap().1;
    // As Java's JAXB writes it: every element prefixed.
    let prefixed = STATEMENT_08
        .replace("</", "\u{0}")
        .replace('<', "<ns2:")
        .replace('\u{0}', "</ns2:")
        .replace("<ns2:?xml", "<?xml")
        .replace("xmlns=", "xmlns:ns2=");
    let (header, got) = entries(&prefixed).unwrap();
    assert_eq!((header.kind.as_str(), &got), ("camt.053.001.08", &plain));
    // A prefix bound to nothing, the default namespace declared beside it: not this message's.
    let unbound = STATEMENT_08.replacen("<Document ", "<x:Document ", 1).replacen("</Document>", "</x:Document>", 1);
    assert_eq!(entries(&unbound).unwrap_err().path, "Document@xmlns");
    let austrian = STATEMENT_08
        .replace("urn:iso:std:iso:20022:tech:xsd:camt.053.001.08", "ISO:camt.053.001.08:APC:STUZZA:payments:003");
    assert_eq!(entries(&austrian).unwrap().0.kind, "camt.053.001.08");
    let not_stuzza = STATEMENT_08.replace("urn:iso:std:iso:20022:tech:xsd:", "ISO:");
    assert_eq!(entries(&not_stuzza).unwrap_err().path, "Document@xmlns");
}

#[test]
fn a_pending_entry_is_not_booked() {
    let pending = STATEMENT_08.replacen("<Sts><Cd>BOOK</Cd></Sts>", "<Sts><Cd>PDNG</Cd></Sts>", 1);
    let got = entries(&pending).unwrap().1;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|e| e.key != "AcctSvcrRef:BANK-0001"));
    // Version 02 writes the status as the element's text.
    let info = STATEMENT_08.replace("camt.053.001.08", "camt.053.001.02").replacen(
        "<Sts><Cd>BOOK</Cd></Sts>",
        "<Sts>INFO</Sts>",
        1,
    );
    assert_eq!(entries(&info).unwrap().1.len(), 3);
    let booked = STATEMENT_08.replacen("<Sts><Cd>BOOK</Cd></Sts>", "<Sts>BOOK</Sts>", 1);
    assert_eq!(entries(&booked).unwrap().1.len(), 4);
    // A pending entry is still read: a broken one refuses the file.
    let broken = pending.replace("1250.00", "12x0.00");
    assert!(entries(&broken).unwrap_err().path.ends_with("Ntry[1]"));
}

#[test]
fn a_transaction_alone_in_its_entry_moved_the_entrys_amount() {
    // What the transaction says of itself: 0 (the ISO business example), the
    // amount instructed in another currency, a charge under TxAmt.
    let detail = "<TxDtls>\n     <Refs><EndToEndId>E2E-ROSSI-1</EndToEndId></Refs>";
    for said in [
        "<Amt Ccy=\"SEK\">0</Amt>",
        "<Amt Ccy=\"USD\">1400.00</Amt>",
        "<AmtDtls><InstdAmt><Amt Ccy=\"EUR\">1250.00</Amt></InstdAmt><TxAmt><Amt Ccy=\"EUR\">0.04</Amt></TxAmt></AmtDtls>",
    ] {
        let xml = STATEMENT_08.replacen(detail, &format!("{detail}{said}"), 1);
        let first = entries(&xml).unwrap().1.remove(0);
        assert_eq!((first.amount, first.currency.as_str()), (125_000, "EUR"), "{said}");
    }
    // In a batch each transaction's own amount counts: in the entry's currency, and TxDtls/Amt before TxAmt.
    let other = STATEMENT_08.replace("<Amt Ccy=\"EUR\">100.5</Amt>", "<Amt Ccy=\"CHF\">100.5</Amt>");
    let r = entries(&other).unwrap_err();
    assert!(r.path.ends_with("Ntry[2]") && r.reason.contains("TxDtls[2]/Amt: in CHF"), "{r:?}");
    let both = STATEMENT_08.replace(
        "<Amt Ccy=\"EUR\">200.00</Amt>",
        "<Amt Ccy=\"EUR\">200.00</Amt><AmtDtls><TxAmt><Amt Ccy=\"EUR\">199.00</Amt></TxAmt></AmtDtls>",
    );
    assert_eq!(entries(&both).unwrap().1[1].amount, 20_000);
}

/// An entry with no reference but its `NtryRef`, booked on `day`.
fn unreferenced(kind: &str, day: &str, ntry_ref: &str, amount: &str, words: &str) -> String {
    format!(
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:{kind}\"><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr><Stmt><Id>S</Id>\
         <Acct><Id><IBAN>IT60X0542811101000000123456</IBAN></Id></Acct>\
         <Ntry><NtryRef>{ntry_ref}</NtryRef><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\
         <BookgDt><Dt>{day}</Dt></BookgDt><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>\
         <RltdPties><Dbtr><Nm>Mario Verdi</Nm></Dbtr></RltdPties><RmtInf><Ustrd>{words}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\
         </Stmt></BkToCstmrStmt></Document>"
    )
}

#[test]
fn an_entry_without_a_reference_is_known_by_its_facts_not_by_its_number() {
    let key = |xml: String| entries(&xml).unwrap().1.remove(0).key;
    // The day's notification numbers it 7, the statement 1: the same credit.
    let monday = key(unreferenced("camt.054.001.02", "2026-11-02", "7", "500.00", "rif. 1003"));
    assert!(monday.starts_with("Ntry:2026-11-02/"), "{monday}");
    assert_eq!(key(unreferenced("camt.053.001.02", "2026-11-02", "1", "500.00", "rif. 1003")), monday);
    // Tuesday's entry 7 is another credit; so is Monday's of other words or another amount.
    assert_ne!(key(unreferenced("camt.053.001.02", "2026-11-03", "7", "500.00", "rif. 1003")), monday);
    assert_ne!(key(unreferenced("camt.053.001.02", "2026-11-02", "7", "500.00", "rif. 1004")), monday);
    assert_ne!(key(unreferenced("camt.053.001.02", "2026-11-02", "7", "500.01", "rif. 1003")), monday);
    // Two alike in one file: the second is told apart, the same way each time it is read.
    let one = unreferenced("camt.053.001.02", "2026-11-02", "1", "500.00", "rif. 1003");
    let entry = &one[one.find("<Ntry>").unwrap()..one.find("</Stmt>").unwrap()];
    let twice = one.replacen("</Stmt>", &format!("{entry}</Stmt>"), 1);
    let got = entries(&twice).unwrap().1;
    assert_eq!((got[0].key.clone(), got[1].key.clone()), (monday.clone(), format!("{monday}#2")));
    assert_eq!(entries(&twice).unwrap().1, got);
    // An entry of no details at all, no reference: read, not refused.
    let bare = STATEMENT_08.replace("<AcctSvcrRef>BANK-0003</AcctSvcrRef>", "");
    assert!(entries(&bare).unwrap().1[3].key.starts_with("Ntry:-/"));
}
