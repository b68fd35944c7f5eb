//! Experiments between policies on a segment. A customer's arm follows from
//! a hash of (experiment, customer id): stable across ticks, restarts,
//! re-imports and workers, and all of a customer's invoices follow it. Every
//! decision records its arm; the report compares the arms' recovery.

pub(crate) mod stats;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sandbox::Plugin;

/// Shares are counted in basis points of the customers.
const WHOLE: u32 = 10_000;

/// An arm as started: its name, the policy (bundled name or sha256), its share in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arm {
    pub name: String,
    pub policy: String,
    pub share: u32,
    /// Settings of the policy in this arm, over the config's: the same policy
    /// with other settings is an arm too.
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
}

impl Arm {
    /// What to do with the arm's own settings once it is promoted: an
    /// activation carries none, so they belong in the config.
    pub fn settings_note(&self, policy: &str) -> Option<String> {
        (!self.settings.is_empty())
            .then(|| format!("put the arm's settings under [settings.{policy}] in the config: {:?}", self.settings))
    }
}

/// `ARM:KEY=VALUE` settings from the command line, put on their arms.
pub(crate) fn set_arm_settings(arms: &mut [Arm], specs: &[String]) -> Result<(), String> {
    for spec in specs {
        let (arm, setting) =
            spec.split_once(':').ok_or_else(|| format!("--arm-set {spec:?}: expected ARM:KEY=VALUE"))?;
        let (key, value) =
            setting.split_once('=').ok_or_else(|| format!("--arm-set {spec:?}: expected ARM:KEY=VALUE"))?;
        let Some(target) = arms.iter_mut().find(|a| a.name == arm) else {
            return Err(format!("--arm-set {spec:?}: no arm {arm:?}"));
        };
        if key.trim().is_empty() {
            return Err(format!("--arm-set {spec:?}: no key"));
        }
        target.settings.insert(key.trim().to_string(), value.trim().to_string());
    }
    Ok(())
}

/// `A=POLICY[:SHARE]` from the command line; arms without a share split what is left.
pub(crate) fn parse_arms(specs: &[String]) -> Result<Vec<Arm>, String> {
    if specs.len() < 2 {
        return Err("--arm: an experiment needs at least two arms".into());
    }
    let mut arms = vec![];
    for spec in specs {
        let (name, rest) =
            spec.split_once('=').ok_or_else(|| format!("--arm {spec:?}: expected NAME=POLICY[:SHARE]"))?;
        // `A` and `B` as well as `control`: a name, in either case.
        crate::names::check("--arm", &name.to_ascii_lowercase())?;
        let (policy, share) = match rest.rsplit_once(':') {
            Some((policy, share)) => {
                let share: u32 = share
                    .parse()
                    .ok()
                    .filter(|s| (1..=99).contains(s))
                    .ok_or_else(|| format!("--arm {spec:?}: the share is a percentage from 1 to 99"))?;
                (policy, Some(share))
            }
            None => (rest, None),
        };
        if policy.is_empty() {
            return Err(format!("--arm {spec:?}: no policy"));
        }
        if arms.iter().any(|a: &(String, String, Option<u32>)| a.0 == name) {
            return Err(format!("--arm {spec:?}: arm {name} is given twice"));
        }
        arms.push((name.to_string(), policy.to_string(), share));
    }
    let given: u32 = arms.iter().filter_map(|a| a.2).sum();
    let open = arms.iter().filter(|a| a.2.is_none()).count() as u32;
    if given > 100 || (open == 0 && given != 100) || (open > 0 && given >= 100) {
        return Err(format!("--arm: the shares add up to {given}%, they must make 100%"));
    }
    let each = (100 - given).checked_div(open).unwrap_or(0);
    let extra = (100 - given).checked_rem(open).unwrap_or(0);
    let mut handed = 0;
    Ok(arms
        .into_iter()
        .map(|(name, policy, share)| {
            let share = share.unwrap_or_else(|| {
                handed += 1;
                each + u32::from(handed <= extra)
            });
            Arm { name, policy, share, settings: Default::default() }
        })
        .collect())
}

/// Where a customer falls, 0 to 9,999: the same for the same experiment and customer, everywhere.
fn bucket(experiment: &str, customer_id: &str) -> u32 {
    let digest = Sha256::new().chain_update(experiment).chain_update([0]).chain_update(customer_id).finalize();
    let first = u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
    (first % u64::from(WHOLE)) as u32
}

/// The index of the arm a customer is in.
pub(crate) fn assign(experiment: &str, customer_id: &str, shares: &[u32]) -> usize {
    let at = bucket(experiment, customer_id);
    let mut upto = 0;
    for (i, share) in shares.iter().enumerate() {
        upto += share * (WHOLE / 100);
        if at < upto {
            return i;
        }
    }
    shares.len() - 1
}

/// A running experiment with its arms' policies loaded.
#[derive(Clone)]
pub struct Running {
    pub name: String,
    pub segment: String,
    pub arms: Vec<(Arm, Arc<Plugin>)>,
}

impl Running {
    /// An arm's own settings.
    pub fn settings_of(&self, arm: &str) -> Option<&std::collections::BTreeMap<String, String>> {
        self.arms.iter().find(|(a, _)| a.name == arm).map(|(a, _)| &a.settings)
    }

    /// The customer's arm: its name and policy.
    pub fn arm_of(&self, customer_id: &str) -> (&str, &Arc<Plugin>) {
        let shares: Vec<u32> = self.arms.iter().map(|(a, _)| a.share).collect();
        let (arm, plugin) = &self.arms[assign(&self.name, customer_id, &shares)];
        (&arm.name, plugin)
    }
}

/// What one arm did: invoices decided in it, paid since, and days to pay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmResult {
    pub arm: String,
    pub invoices: u64,
    pub recovered: u64,
    pub days_to_pay: Vec<f64>,
    /// Of the invoices not paid, the days from their first decision to the
    /// experiment's last one: how long each was seen unpaid.
    pub days_unpaid: Vec<f64>,
}

/// An arm in the report: its rate with the 95% Wilson interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmLine {
    pub arm: String,
    pub policy: String,
    pub share: u32,
    pub invoices: u64,
    pub recovered: u64,
    pub recovery_rate: f64,
    pub interval: (f64, f64),
    pub median_days_to_pay: Option<f64>,
}

/// An arm against the first one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Versus {
    pub arm: String,
    pub against: String,
    pub recovery: Option<stats::Comparison>,
    /// Mann-Whitney p-value of days to pay among the invoices paid.
    pub time_to_pay_p_value: Option<f64>,
    /// Log-rank p-value of time to pay over every invoice, the unpaid ones censored.
    pub time_to_pay_log_rank_p_value: Option<f64>,
    /// The verdict in English words.
    pub verdict: String,
    /// The same verdict as data, for other languages.
    pub finding: stats::Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentReport {
    pub name: String,
    pub segment: String,
    pub running: bool,
    pub arms: Vec<ArmLine>,
    pub versus: Vec<Versus>,
}

fn survival(r: &ArmResult) -> stats::Survival {
    stats::Survival { paid_after: r.days_to_pay.clone(), unpaid_after: r.days_unpaid.clone() }
}

pub(crate) fn report(
    name: &str,
    segment: &str,
    running: bool,
    arms: &[Arm],
    results: &[ArmResult],
    minimum_effect: f64,
) -> ExperimentReport {
    let result = |arm: &str| {
        results.iter().find(|r| r.arm == arm).cloned().unwrap_or(ArmResult {
            arm: arm.into(),
            invoices: 0,
            recovered: 0,
            days_to_pay: vec![],
            days_unpaid: vec![],
        })
    };
    let lines: Vec<ArmLine> = arms
        .iter()
        .map(|a| {
            let r = result(&a.name);
            let mut days = r.days_to_pay.clone();
            days.sort_by(f64::total_cmp);
            ArmLine {
                arm: a.name.clone(),
                policy: a.policy.clone(),
                share: a.share,
                invoices: r.invoices,
                recovered: r.recovered,
                recovery_rate: if r.invoices == 0 { 0.0 } else { r.recovered as f64 / r.invoices as f64 },
                interval: stats::wilson(r.recovered, r.invoices),
                median_days_to_pay: (!days.is_empty()).then(|| days[(days.len() - 1) / 2]),
            }
        })
        .collect();
    let base = &arms[0].name;
    let versus = arms[1..]
        .iter()
        .map(|a| {
            let (ra, rb) = (result(base), result(&a.name));
            let (sa, sb) = ((ra.recovered, ra.invoices), (rb.recovered, rb.invoices));
            let finding = stats::verdict(sa, sb, (base, &a.name), minimum_effect);
            Versus {
                arm: a.name.clone(),
                against: base.clone(),
                recovery: stats::two_proportions(sa, sb),
                time_to_pay_p_value: stats::mann_whitney(&ra.days_to_pay, &rb.days_to_pay),
                time_to_pay_log_rank_p_value: stats::log_rank(&survival(&ra), &survival(&rb)),
                verdict: finding.to_string(),
                finding,
            }
        })
        .collect();
    ExperimentReport { name: name.into(), segment: segment.into(), running, arms: lines, versus }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arms_are_read_with_their_shares_and_each_mistake_is_named() {
        let arms = parse_arms(&specs(&["a=b2b-standard:70", "b=gentle"])).unwrap();
        assert_eq!((arms[0].share, arms[1].share), (70, 30));
        let even = parse_arms(&specs(&["a=x", "b=y", "c=z"])).unwrap();
        assert_eq!(even.iter().map(|a| a.share).collect::<Vec<_>>(), [34, 33, 33]);
        for (bad, why) in [
            (vec!["a=x"], "--arm: an experiment needs at least two arms"),
            (vec!["a=x", "b"], "--arm \"b\": expected NAME=POLICY[:SHARE]"),
            (vec!["a=x:0", "b=y"], "--arm \"a=x:0\": the share is a percentage from 1 to 99"),
            (vec!["a=x:60", "b=y:60"], "--arm: the shares add up to 120%, they must make 100%"),
            (vec!["a=x:50", "b=y:40"], "--arm: the shares add up to 90%, they must make 100%"),
            (vec!["a=x", "a=y"], "--arm \"a=y\": arm a is given twice"),
            (vec!["a=", "b=y"], "--arm \"a=\": no policy"),
        ] {
            assert_eq!(parse_arms(&specs(&bad)), Err(why.to_string()), "{bad:?}");
        }
        assert!(parse_arms(&specs(&["A B=x", "b=y"])).unwrap_err().starts_with("--arm"));
    }

    #[test]
    fn a_customer_stays_in_one_arm_and_the_shares_hold_on_20000_customers() {
        let shares = [70, 30];
        let mut in_first = 0;
        for i in 0..20_000 {
            let customer = format!("cus-{i}");
            let arm = assign("tone-test", &customer, &shares);
            // Asked again (another tick, another worker), the same answer.
            assert_eq!(assign("tone-test", &customer, &shares), arm);
            in_first += usize::from(arm == 0);
        }
        let share = in_first as f64 / 20_000.0;
        assert!((share - 0.70).abs() < 0.01, "{share}");
        // Another experiment shuffles customers afresh.
        let moved = (0..1_000).filter(|i| {
            let c = format!("cus-{i}");
            assign("tone-test", &c, &[50, 50]) != assign("other", &c, &[50, 50])
        });
        let moved = moved.count();
        assert!((400..600).contains(&moved), "{moved}");
    }
}
