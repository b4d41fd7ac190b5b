//! The benchmark's table: one row per measurement, as Markdown (so it can be pasted into the
//! README as it is).

use super::load::Measurement;

/// One measured scenario.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub database: String,
    pub measurement: Measurement,
    /// The rate this row is compared with (the limit or the ceiling), if any.
    pub baseline_rps: Option<f64>,
}

impl Row {
    #[must_use]
    pub fn new(scenario: impl Into<String>, database: impl Into<String>, m: Measurement) -> Self {
        Self {
            scenario: scenario.into(),
            database: database.into(),
            measurement: m,
            baseline_rps: None,
        }
    }

    /// Compares this row with `baseline`'s rate.
    #[must_use]
    pub fn against(mut self, baseline: &Measurement) -> Self {
        self.baseline_rps = Some(baseline.rps());
        self
    }

    /// This row's rate over its baseline's.
    #[must_use]
    pub fn ratio(&self) -> Option<f64> {
        self.baseline_rps
            .filter(|b| *b > 0.0)
            .map(|b| self.measurement.rps() / b)
    }
}

/// The header of [`markdown`]'s table.
pub const HEADER: [&str; 9] = [
    "scenario",
    "database",
    "requests",
    "errors",
    "rps",
    "p50 ms",
    "p99 ms",
    "baseline rps",
    "ratio",
];

/// The rows as a Markdown table.
#[must_use]
pub fn markdown(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", HEADER.join(" | "));
    out.push_str(&format!(
        "|{}\n",
        HEADER
            .iter()
            .enumerate()
            .map(|(i, _)| if i < 2 { "---|" } else { "---:|" })
            .collect::<String>()
    ));
    for row in rows {
        let m = &row.measurement;
        let cells = [
            row.scenario.clone(),
            row.database.clone(),
            m.requests.to_string(),
            m.errors.to_string(),
            format!("{:.0}", m.rps()),
            format!("{:.1}", m.p50_ms()),
            format!("{:.1}", m.p99_ms()),
            row.baseline_rps
                .map_or_else(String::new, |b| format!("{b:.0}")),
            row.ratio().map_or_else(String::new, |r| format!("{r:.2}")),
        ];
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_without_a_baseline_leave_its_cells_empty() {
        let table = markdown(&[Row::new("live", "sqlite", Measurement::default())]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.first().is_some_and(|l| l.starts_with("| scenario |")));
        assert_eq!(
            lines.get(2).copied(),
            Some("| live | sqlite | 0 | 0 | 0 | 0.0 | 0.0 |  |  |")
        );
    }
}
