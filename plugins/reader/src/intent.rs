//! What a reply says, from the phrases people use in Italian, English,
//! French, German and Spanish. The order matters: a customer who says they
//! paid is believed first (a person verifies it), then a dispute, then a
//! promise with a date; a promise without a date is for a person to read.

use crate::dates::{self, Found, Looking};
use crate::day::Day;
use crate::text::{first_of, fold, tokens};

/// What the reply says, in this plugin's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Paid { on: Option<Day>, reference: Option<String> },
    Promise(Day),
    Dispute(String),
    Question,
    Other,
}

const PAID: &[&str] = &[
    // Italian
    "gia pagat*",
    "gia saldat*",
    "gia versat*",
    "abbiamo pagat*",
    "ho pagat*",
    "abbiamo saldat*",
    "ho saldat*",
    "abbiamo effettuato il bonifico",
    "ho effettuato il bonifico",
    "bonifico effettuato",
    "bonifico e stato effettuato",
    "pagamento effettuato",
    "pagamento e stato effettuato",
    "abbiamo disposto il bonifico",
    "ho disposto il bonifico",
    "abbiamo provveduto al pagamento",
    "e stata pagata",
    "risulta pagata",
    "in allegato la contabile",
    // English
    "already paid",
    "already settled",
    "have paid",
    "has been paid",
    "was paid",
    "we paid",
    "i paid",
    "payment was made",
    "payment has been made",
    "payment was sent",
    "payment has been sent",
    "sent the payment",
    "made the payment",
    "transfer was made",
    "we settled",
    "have settled",
    "remittance advice",
    // French
    "deja paye*",
    "deja regle*",
    "avons paye",
    "ai paye",
    "avons regle",
    "ai regle",
    "virement effectue",
    "virement a ete effectue",
    "paiement effectue",
    "paiement a ete effectue",
    "reglement effectue",
    "a ete reglee",
    "a ete payee",
    // German
    "bereits bezahlt",
    "schon bezahlt",
    "bereits uberwiesen",
    "schon uberwiesen",
    "haben bezahlt",
    "habe bezahlt",
    "haben uberwiesen",
    "habe uberwiesen",
    "uberweisung ist erfolgt",
    "uberweisung wurde",
    "zahlung ist erfolgt",
    "zahlung erfolgt",
    "bereits beglichen",
    "wurde bezahlt",
    "wurde beglichen",
    "wurde uberwiesen",
    // Spanish
    "ya pagamos",
    "ya hemos pagado",
    "ya pague",
    "ya he pagado",
    "hemos pagado",
    "he pagado",
    "ya esta pagad*",
    "transferencia realizada",
    "hemos realizado la transferencia",
    "pago realizado",
    "ya abonamos",
    "hemos abonado",
    "ya fue pagad*",
];

const DISPUTE: &[&str] = &[
    // Italian
    "contest*",
    "non e dovut*",
    "non dovut*",
    "non dobbiamo",
    "non riconosciamo",
    "errat*",
    "sbagliat*",
    "reclamo",
    "non abbiamo ricevuto",
    "non ho ricevuto",
    "difettos*",
    "nota di credito",
    "non corrisponde",
    // English
    "dispute*",
    "disputing",
    "do not owe",
    "don ' t owe",
    "not owed",
    "incorrect",
    "wrong amount",
    "wrong invoice",
    "never received",
    "not received",
    "have not received",
    "damaged",
    "defective",
    "credit note",
    "not what we ordered",
    // French
    "conteste*",
    "contestation",
    "litige",
    "errone*",
    "erreur",
    "pas recu",
    "jamais recu",
    "defectueu*",
    "ne devons pas",
    "pas commande",
    // German
    "widersprech*",
    "widerspruch",
    "bestreit*",
    "reklamation",
    "fehlerhaft*",
    "falsch*",
    "nicht erhalten",
    "nie erhalten",
    "gutschrift",
    "mangelhaft*",
    "nicht bestellt",
    // Spanish
    "disputa*",
    "reclamacion",
    "reclamamos",
    "incorrect*",
    "erronea*",
    "equivocad*",
    "no hemos recibido",
    "no recibimos",
    "defectuos*",
    "nota de credito",
    "no debemos",
];

const PROMISE: &[&str] = &[
    // Italian
    "pagheremo",
    "paghero",
    "salderemo",
    "saldero",
    "provvederemo",
    "provvedero",
    "effettueremo",
    "effettuero",
    "verra pagat*",
    "verra saldat*",
    "sara pagat*",
    "sara saldat*",
    "disporremo",
    "faremo il bonifico",
    "faro il bonifico",
    "procederemo",
    "entro il",
    "entro fine",
    // English
    "will pay",
    "' ll pay",
    "will be paid",
    "will settle",
    "will be settled",
    "will transfer",
    "will send",
    "will make the payment",
    "pay by",
    "payment by",
    "going to pay",
    "plan to pay",
    // French
    "paierons",
    "payerons",
    "paierai",
    "payerai",
    "reglerons",
    "reglerai",
    "sera paye*",
    "sera regle*",
    "effectuerons",
    "effectuerai",
    "virerons",
    "d ' ici le",
    "d ' ici la",
    // German
    "werden bezahlen",
    "werden zahlen",
    "werde bezahlen",
    "werde zahlen",
    "werden uberweisen",
    "werde uberweisen",
    "werden begleichen",
    "werde begleichen",
    "begleichen wir",
    "bezahlen wir",
    "zahlen wir",
    "uberweisen wir",
    "bis zum",
    "bis spatestens",
    "wird bezahlt",
    "wird uberwiesen",
    // Spanish
    "pagaremos",
    "abonaremos",
    "abonare",
    "transferiremos",
    "realizaremos",
    "sera pagad*",
    "sera abonad*",
    "antes del",
    "a mas tardar",
];

/// A promise made impossible by the same reply ("we cannot pay by the 20th").
const CANNOT: &[&str] = &[
    "non riusciamo",
    "non riesco",
    "non possiamo",
    "non posso",
    "impossibile",
    "cannot",
    "can ' t",
    "unable",
    "won ' t be able",
    "ne pouvons pas",
    "ne peux pas",
    "impossible",
    "konnen nicht",
    "kann nicht",
    "nicht moglich",
    "no podemos",
    "no puedo",
    "imposible",
];

const QUESTION: &[&str] = &[
    "potete",
    "potreste",
    "could you",
    "can you",
    "would you",
    "pouvez",
    "pourriez",
    "konnen sie",
    "konnten sie",
    "puede",
    "pueden",
    "podria",
    "podrian",
];

/// Words before a payment reference ("CRO 1234567890", "TRN: ...").
const REFERENCE_CUES: &[&str] = &[
    "cro",
    "trn",
    "rif",
    "rif.",
    "riferimento",
    "ref",
    "ref.",
    "reference",
    "referenz",
    "referencia",
    "reference:",
    "id",
    "transaction",
];

/// Reads one reply: its own words, the day it was written, and whether
/// its writer puts the month first ("1/15").
pub fn read(text: &str, subject: &str, written: Day, month_first: bool) -> Said {
    let folded = fold(text);
    let words = tokens(&folded);
    let subject_words = tokens(&fold(subject));
    let cue = |list: &[&str]| first_of(&words, list);
    if let Some(at) = cue(PAID) {
        let past = dates::dates(&words, written, month_first, Looking::Back);
        let on = nearest(&past, at, |d| d <= written);
        return Said::Paid { on, reference: reference(text) };
    }
    if cue(DISPUTE).is_some() || first_of(&subject_words, DISPUTE).is_some() {
        return Said::Dispute(reason(text));
    }
    if let Some(at) = cue(PROMISE).filter(|_| cue(CANNOT).is_none()) {
        let ahead = dates::dates(&words, written, month_first, Looking::Forward);
        if let Some(until) = nearest(&ahead, at, |d| d >= written) {
            return Said::Promise(until);
        }
    }
    if folded.contains('?') || cue(QUESTION).is_some() {
        return Said::Question;
    }
    Said::Other
}

/// The date said with the cue at `at`: the first after it, else the last
/// before it, of those `fits` allows.
fn nearest(found: &[Found], at: usize, fits: impl Fn(Day) -> bool) -> Option<Day> {
    let usable = || found.iter().filter(|(_, d)| fits(*d));
    usable().find(|(i, _)| *i >= at).or_else(|| usable().filter(|(i, _)| *i < at).last()).map(|(_, d)| *d)
}

/// A payment reference quoted after a cue word: 6 to 40 letters and
/// digits, at least one a digit.
fn reference(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let trim = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string();
    for (i, w) in words.iter().enumerate() {
        if !REFERENCE_CUES.contains(&trim(w).to_lowercase().as_str()) {
            continue;
        }
        let candidate = words[i + 1..]
            .iter()
            .map(|w| trim(w))
            .find(|w| !["n", "nr", "no", "num", "number", "numero", "nummer"].contains(&w.to_lowercase().as_str()))?;
        let fine = (6..=40).contains(&candidate.len())
            && candidate.chars().any(|c| c.is_ascii_digit())
            && candidate.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/');
        if fine {
            return Some(candidate);
        }
    }
    None
}

/// The sentence that says what is wrong, in the customer's words.
fn reason(text: &str) -> String {
    let sentences = text.split(['.', '!', '?', '\n']).map(str::trim).filter(|s| !s.is_empty());
    let about = sentences.clone().find(|s| first_of(&tokens(&fold(s)), DISPUTE).is_some());
    let said = about.or_else(|| sentences.clone().next()).unwrap_or_default();
    said.chars().take(160).collect()
}
