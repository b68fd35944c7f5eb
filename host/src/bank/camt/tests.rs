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
