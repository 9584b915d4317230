//! A/B variants: several templates, each sent to a random sample of the
//! list of a given size (no recipient in two samples, the same seed giving
//! the same samples), and later the chosen one sent to the rest.

use std::collections::HashMap;
use std::path::PathBuf;

use smtpwire::delivery::disjoint_samples;

use super::list::Row;

/// One `--variant NAME=TEMPLATE:SIZE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantSpec {
    /// Its name in the results file.
    pub name: String,
    /// Its template file.
    pub template: PathBuf,
    /// How many recipients its sample has.
    pub size: usize,
}

impl VariantSpec {
    /// Parses `NAME=TEMPLATE:SIZE`; the name is letters, digits, `-` and
    /// `_`, so it needs no quoting in the results file.
    pub fn parse(spec: &str) -> Result<VariantSpec, String> {
        let bad = |why: &str| format!("--variant {spec}: {why} (expected NAME=TEMPLATE:SIZE)");
        let (name, rest) = spec.split_once('=').ok_or_else(|| bad("no '='"))?;
        let (template, size) = rest.rsplit_once(':').ok_or_else(|| bad("no ':SIZE'"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad("the name must be letters, digits, '-' or '_'"));
        }
        if template.is_empty() {
            return Err(bad("no template"));
        }
        let size = size.parse().map_err(|_| bad("the size is not a number"))?;
        Ok(VariantSpec {
            name: name.to_string(),
            template: PathBuf::from(template),
            size,
        })
    }
}

/// Which variant (an index into `specs`) each of `candidates` (indices
/// into `rows`, the recipients still to send to) gets:
///
/// - a recipient that got a variant in an earlier run (`earlier`, by
///   lower-cased address) keeps it;
/// - if no one has a variant yet, each variant gets a sample of the others
///   of its size, drawn with `seed`, and the rest wait;
/// - with `send` (an index into `specs`), everyone else gets that one.
pub fn assign(
    rows: &[Row],
    candidates: &[usize],
    earlier: &HashMap<String, String>,
    specs: &[VariantSpec],
    seed: u64,
    send: Option<usize>,
) -> Result<Vec<(usize, usize)>, String> {
    let mut assigned = Vec::new();
    let mut fresh = Vec::new();
    for &row in candidates {
        match earlier.get(&rows[row].email.to_ascii_lowercase()) {
            Some(name) => {
                let variant = specs
                    .iter()
                    .position(|spec| &spec.name == name)
                    .ok_or_else(|| {
                        format!(
                            "{}: got variant {name} before, which no --variant names",
                            rows[row].email
                        )
                    })?;
                assigned.push((row, variant));
            }
            None => fresh.push(row),
        }
    }
    match send {
        Some(variant) => assigned.extend(fresh.into_iter().map(|row| (row, variant))),
        // Samples are drawn once: a run that retries them draws no more.
        None if earlier.is_empty() => {
            let sizes: Vec<usize> = specs.iter().map(|spec| spec.size).collect();
            for (variant, sample) in disjoint_samples(fresh.len(), &sizes, seed)
                .into_iter()
                .enumerate()
            {
                assigned.extend(sample.into_iter().map(|index| (fresh[index], variant)));
            }
        }
        None => {}
    }
    assigned.sort_unstable();
    Ok(assigned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_specs_parse_and_bad_ones_are_refused() {
        let spec = VariantSpec::parse("subject-b=/tmp/b:a.eml:25").unwrap();
        assert_eq!(
            (spec.name.as_str(), spec.template, spec.size),
            ("subject-b", PathBuf::from("/tmp/b:a.eml"), 25)
        );
        for bad in [
            "b.eml:3",
            "=b.eml:3",
            "b=b.eml",
            "b=b.eml:x",
            "b c=b.eml:3",
            "b=:3",
        ] {
            assert!(VariantSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
