//! The statistics of an experiment between two arms: Wilson intervals for a
//! recovery rate, a two-proportion z-test for the difference, the sample
//! size a minimum effect needs, and for time to pay a rank test
//! (Mann-Whitney, normal approximation, the invoices paid) and a log-rank
//! test (every invoice, the unpaid ones censored). Distributions come from `statrs`.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

fn standard_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("the standard normal exists")
}

/// The z of a two-sided confidence level (1.96 for 95%).
fn z_of(confidence: f64) -> f64 {
    standard_normal().inverse_cdf(1.0 - (1.0 - confidence) / 2.0)
}

/// Wilson score interval of `successes` out of `n` at 95%.
pub(crate) fn wilson(successes: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n, p) = (z_of(0.95), n as f64, successes as f64 / n as f64);
    let centre = p + z * z / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z * z / n;
    (((centre - spread) / denominator).max(0.0), ((centre + spread) / denominator).min(1.0))
}

/// B against A: the difference of the rates with its 95% interval, and the
/// two-sided p-value of the pooled two-proportion z-test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub difference: f64,
    pub interval: (f64, f64),
    pub p_value: f64,
}

pub(crate) fn two_proportions((s_a, n_a): (u64, u64), (s_b, n_b): (u64, u64)) -> Option<Comparison> {
    if n_a == 0 || n_b == 0 {
        return None;
    }
    let (na, nb) = (n_a as f64, n_b as f64);
    let (pa, pb) = (s_a as f64 / na, s_b as f64 / nb);
    let difference = pb - pa;
    let pooled = (s_a + s_b) as f64 / (na + nb);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    let p_value =
        if se_pooled == 0.0 { 1.0 } else { 2.0 * (1.0 - standard_normal().cdf((difference / se_pooled).abs())) };
    let se = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let z = z_of(0.95);
    Some(Comparison { difference, interval: (difference - z * se, difference + z * se), p_value })
}

/// Invoices per arm to detect `effect` (absolute, e.g. 0.05) over a base
/// rate, at 5% significance with 80% power.
pub(crate) fn sample_size(base: f64, effect: f64) -> u64 {
    let (p1, p2) = (base.clamp(0.0, 1.0), (base + effect).clamp(0.0, 1.0));
    let delta = (p2 - p1).abs();
    if delta == 0.0 {
        return u64::MAX;
    }
    let mean = (p1 + p2) / 2.0;
    let (z_alpha, z_beta) = (z_of(0.95), standard_normal().inverse_cdf(0.8));
    let root = z_alpha * (2.0 * mean * (1.0 - mean)).sqrt() + z_beta * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    (root * root / (delta * delta)).ceil() as u64
}

/// Mann-Whitney U test of two samples (days to pay): the two-sided p-value
/// by the normal approximation with ties corrected; None if a side is empty.
pub(crate) fn mann_whitney(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a.iter().map(|x| (*x, true)).chain(b.iter().map(|x| (*x, false))).collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (mut rank_a, mut ties, mut i) = (0.0, 0.0, 0);
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let (count, rank) = ((j - i + 1) as f64, (i + j) as f64 / 2.0 + 1.0);
        rank_a += rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        ties += count * count * count - count;
        i = j + 1;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let u = rank_a - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 {
        return Some(1.0);
    }
    let z = (u - n1 * n2 / 2.0) / variance.sqrt();
    Some(2.0 * (1.0 - standard_normal().cdf(z.abs())))
}

/// Days to pay in an arm: the invoices paid, and those still unpaid when the
/// experiment last looked (censored: they may yet pay).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Survival {
    pub paid_after: Vec<f64>,
    pub unpaid_after: Vec<f64>,
}

/// Log-rank test of two arms' time to pay, unpaid invoices counted as
/// censored: the two-sided p-value (chi-squared, one degree of freedom);
/// None when no invoice of either arm was paid.
pub(crate) fn log_rank(a: &Survival, b: &Survival) -> Option<f64> {
    // (time, arm a?, paid?): at one time, payments come before censoring.
    let mut all: Vec<(f64, bool, bool)> = [(a, true), (b, false)]
        .into_iter()
        .flat_map(|(s, is_a)| {
            let paid = s.paid_after.iter().map(move |t| (*t, is_a, true));
            paid.chain(s.unpaid_after.iter().map(move |t| (*t, is_a, false)))
        })
        .collect();
    if !all.iter().any(|x| x.2) {
        return None;
    }
    all.sort_by(|x, y| x.0.total_cmp(&y.0).then(y.2.cmp(&x.2)));
    let (mut at_risk_a, mut at_risk) = (
        (a.paid_after.len() + a.unpaid_after.len()) as f64,
        (a.paid_after.len() + a.unpaid_after.len() + b.paid_after.len() + b.unpaid_after.len()) as f64,
    );
    let (mut observed_minus_expected, mut variance, mut i) = (0.0, 0.0, 0);
    while i < all.len() {
        let time = all[i].0;
        let same: Vec<_> = all[i..].iter().take_while(|x| x.0 == time).collect();
        let (paid, paid_a) =
            (same.iter().filter(|x| x.2).count() as f64, same.iter().filter(|x| x.2 && x.1).count() as f64);
        if paid > 0.0 && at_risk > 0.0 {
            let share_a = at_risk_a / at_risk;
            observed_minus_expected += paid_a - paid * share_a;
            if at_risk > 1.0 {
                variance += paid * share_a * (1.0 - share_a) * (at_risk - paid) / (at_risk - 1.0);
            }
        }
        at_risk -= same.len() as f64;
        at_risk_a -= same.iter().filter(|x| x.1).count() as f64;
        i += same.len();
    }
    if variance <= 0.0 {
        return Some(1.0);
    }
    let chi = ChiSquared::new(1.0).expect("one degree of freedom");
    Some(1.0 - chi.cdf(observed_minus_expected * observed_minus_expected / variance))
}

/// What an experiment shows so far, for `b` against `a`: said in English by
/// `Display` (the CLI and the API), in Italian by [`Verdict::in_italian`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Verdict {
    /// An arm has no invoice yet.
    NoInvoices,
    /// One arm recovers more, significantly; rates as shares (0.061 is 6.1 points).
    Better { better: String, worse: String, by: f64, interval: (f64, f64), p_value: f64 },
    /// Too few invoices to see the minimum effect.
    NeedsMore { per_arm: u64, minimum_effect: f64 },
    /// Enough invoices, and no significant difference (`b` minus `a`).
    NoDifference { a: String, b: String, difference: f64, interval: (f64, f64), p_value: f64 },
}

fn points(x: f64) -> String {
    format!("{:.1}", x * 100.0)
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::NoInvoices => write!(f, "not enough data yet (no invoice in an arm)"),
            Verdict::Better { better, worse, by, interval, p_value } => write!(
                f,
                "{better} recovers {} points more than {worse} (95% CI {}-{}), significant (p = {p_value:.3})",
                points(*by),
                points(interval.0),
                points(interval.1)
            ),
            Verdict::NeedsMore { per_arm, minimum_effect } => write!(
                f,
                "not enough data yet (needs about {} invoices per arm to see {} points)",
                thousands(*per_arm, ','),
                points(*minimum_effect)
            ),
            Verdict::NoDifference { a, b, difference, interval, p_value } => write!(
                f,
                "no difference seen: {b} - {a} = {} points (95% CI {} to {}), not significant (p = {p_value:.2})",
                points(*difference),
                points(interval.0),
                points(interval.1)
            ),
        }
    }
}

impl Verdict {
    /// The same finding in Italian (decimal comma, thousands with a dot).
    pub fn in_italian(&self) -> String {
        let points = |x: f64| points(x).replace('.', ",");
        match self {
            Verdict::NoInvoices => "dati ancora insufficienti (un braccio non ha fatture)".into(),
            Verdict::Better { better, worse, by, interval, p_value } => format!(
                "{better} recupera {} punti più di {worse} (IC 95% {}–{}), differenza significativa (p = {})",
                points(*by),
                points(interval.0),
                points(interval.1),
                format!("{p_value:.3}").replace('.', ",")
            ),
            Verdict::NeedsMore { per_arm, minimum_effect } => format!(
                "dati ancora insufficienti (servono circa {} fatture per braccio per vedere {} punti)",
                thousands(*per_arm, '.'),
                points(*minimum_effect)
            ),
            Verdict::NoDifference { a, b, difference, interval, p_value } => format!(
                "nessuna differenza: {b} − {a} = {} punti (IC 95% da {} a {}), non significativa (p = {})",
                points(*difference),
                points(interval.0),
                points(interval.1),
                format!("{p_value:.2}").replace('.', ",")
            ),
        }
    }
}

/// The verdict for `b` against `a`.
pub(crate) fn verdict(a: (u64, u64), b: (u64, u64), names: (&str, &str), minimum_effect: f64) -> Verdict {
    let Some(c) = two_proportions(a, b) else {
        return Verdict::NoInvoices;
    };
    if c.p_value < 0.05 {
        let (better, worse, by) =
            if c.difference > 0.0 { (names.1, names.0, c.difference) } else { (names.0, names.1, -c.difference) };
        let interval = if c.difference > 0.0 { c.interval } else { (-c.interval.1, -c.interval.0) };
        return Verdict::Better { better: better.into(), worse: worse.into(), by, interval, p_value: c.p_value };
    }
    let base = if a.1 == 0 { 0.5 } else { a.0 as f64 / a.1 as f64 };
    let needed = sample_size(base, minimum_effect);
    if a.1.min(b.1) < needed {
        return Verdict::NeedsMore { per_arm: needed, minimum_effect };
    }
    Verdict::NoDifference {
        a: names.0.into(),
        b: names.1.into(),
        difference: c.difference,
        interval: c.interval,
        p_value: c.p_value,
    }
}

fn thousands(n: u64, separator: char) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    #[test]
    fn wilson_intervals_match_the_textbook() {
        // Newcombe (1998), table I: 0/10 and 5/10.
        let (lo, hi) = wilson(0, 10);
        assert!(close(lo, 0.0) && close(hi, 0.2775), "{lo} {hi}");
        let (lo, hi) = wilson(5, 10);
        assert!(close(lo, 0.2366) && close(hi, 0.7634), "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn the_sample_size_of_a_classic_case() {
        // 50% against 55%, alpha 5% two-sided, power 80%: 1,565 per arm (Fleiss, without continuity correction).
        assert_eq!(sample_size(0.5, 0.05), 1565);
        assert_eq!(thousands(1565, ','), "1,565");
    }

    /// Recovered or not, for `n` invoices paying with probability `p`.
    fn arm(rng: &mut StdRng, n: u64, p: f64) -> (u64, u64) {
        ((0..n).filter(|_| rng.random::<f64>() < p).count() as u64, n)
    }

    #[test]
    fn a_known_effect_of_five_points_on_20000_invoices_is_found_and_covered() {
        let mut rng = StdRng::seed_from_u64(20_000);
        let (a, b) = (arm(&mut rng, 10_000, 0.30), arm(&mut rng, 10_000, 0.35));
        let c = two_proportions(a, b).unwrap();
        assert!(c.p_value < 0.05, "{c:?}");
        assert!(c.interval.0 <= 0.05 && 0.05 <= c.interval.1, "the interval misses the truth: {c:?}");
        let said = verdict(a, b, ("A", "B"), 0.02).to_string();
        assert!(said.starts_with("B recovers ") && said.contains("significant"), "{said}");
    }

    #[test]
    fn a_a_experiments_are_called_different_about_one_time_in_twenty() {
        let mut rng = StdRng::seed_from_u64(200);
        let runs = 200;
        let false_positives = (0..runs)
            .filter(|_| two_proportions(arm(&mut rng, 2_000, 0.3), arm(&mut rng, 2_000, 0.3)).unwrap().p_value < 0.05)
            .count();
        let rate = false_positives as f64 / runs as f64;
        assert!((0.02..=0.09).contains(&rate), "false-positive rate {rate}");
    }

    #[test]
    fn too_little_data_says_how_much_is_needed() {
        let said = verdict((30, 100), (33, 100), ("A", "B"), 0.05);
        assert!(said.to_string().starts_with("not enough data yet (needs about 1,"), "{said}");
        let italian = said.in_italian();
        assert!(italian.starts_with("dati ancora insufficienti (servono circa 1."), "{italian}");
        assert!(italian.ends_with("per vedere 5,0 punti)"), "{italian}");
    }

    #[test]
    fn a_significant_finding_in_italian_uses_decimal_commas() {
        let said = Verdict::Better {
            better: "B".into(),
            worse: "A".into(),
            by: 0.061,
            interval: (0.023, 0.098),
            p_value: 0.0012,
        };
        assert_eq!(said.to_string(), "B recovers 6.1 points more than A (95% CI 2.3-9.8), significant (p = 0.001)");
        assert_eq!(
            said.in_italian(),
            "B recupera 6,1 punti più di A (IC 95% 2,3–9,8), differenza significativa (p = 0,001)"
        );
    }

    fn survival(paid: &[f64], unpaid: &[f64]) -> Survival {
        Survival { paid_after: paid.to_vec(), unpaid_after: unpaid.to_vec() }
    }

    #[test]
    fn the_log_rank_test_agrees_with_an_independent_implementation() {
        // Reference p-values from Python's lifelines 0.30 (`logrank_test`), on the same data.
        let a = survival(&[2.0, 3.0, 3.0, 5.0, 8.0, 9.0, 12.0, 15.0], &[20.0; 4]);
        let b = survival(&[4.0, 6.0, 9.0, 14.0, 18.0], &[20.0; 7]);
        let p = log_rank(&a, &b).unwrap();
        assert!((p - 0.154_978).abs() < 1e-5, "{p}");
        // Ties, and invoices censored at the times others paid.
        let a = survival(&[1.0, 1.0, 2.0, 4.0, 4.0, 6.0], &[3.0, 5.0, 7.0, 7.0]);
        let b = survival(&[2.0, 3.0, 3.0, 8.0], &[1.0, 4.0, 6.0, 9.0, 9.0, 9.0]);
        let p = log_rank(&a, &b).unwrap();
        assert!((p - 0.226_174).abs() < 1e-5, "{p}");
        // The same arm against itself shows nothing; no payment at all, no test.
        assert!((log_rank(&a, &a).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(log_rank(&survival(&[], &[3.0]), &survival(&[], &[4.0])), None);
    }

    #[test]
    fn the_rank_test_tells_slower_payers_from_the_same_ones() {
        let fast: Vec<f64> = (0..60).map(|i| f64::from(i % 10)).collect();
        let slow: Vec<f64> = (0..60).map(|i| f64::from(i % 10 + 6)).collect();
        assert!(mann_whitney(&fast, &slow).unwrap() < 0.001);
        let same = mann_whitney(&fast, &fast).unwrap();
        assert!(same > 0.9, "{same}");
        assert_eq!(mann_whitney(&[], &fast), None);
    }
}
