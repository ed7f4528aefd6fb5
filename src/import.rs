//! CSV import of institutions and instances (`tusk import …`): an upsert per
//! line, each line in its own transaction, so good lines are kept and every
//! rejected line is reported with its number and reason.
//!
//! Institutions: header `slug,name[,domains][,default_plan][,status]`, where
//! `domains` holds the email domains separated by spaces or `;`.
//! Instances: header `domain,institution[,plan][,status][,mastodon_version][,region][,notes]`,
//! where `institution` is the institution's slug.

use std::collections::HashMap;
use std::io::Read;

use crate::db::{AnyConnection, InstanceStatus, InstitutionStatus};
use crate::domain::instances::{self, InstanceInput};
use crate::domain::institutions::{self, InstitutionInput};
use crate::domain::validate::{normalize_domain, normalize_slug};
use crate::domain::{Actor, Plans, Upserted};
use crate::error::{AppError, AppResult, ErrorKind};

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<Rejected>,
}

impl ImportReport {
    fn count(&mut self, outcome: Upserted) {
        match outcome {
            Upserted::Created => self.created += 1,
            Upserted::Updated => self.updated += 1,
            Upserted::Unchanged => self.unchanged += 1,
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{} created, {} updated, {} unchanged, {} rejected",
            self.created,
            self.updated,
            self.unchanged,
            self.rejected.len()
        )
    }
}

/// A CSV file's header, mapped to column positions.
struct Columns {
    index: HashMap<String, usize>,
    width: usize,
}

impl Columns {
    fn new(headers: &csv::StringRecord, required: &[&str], optional: &[&str]) -> AppResult<Self> {
        let mut index = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let name = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
            if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
                return Err(AppError::invalid(format!(
                    "line 1: unknown column `{name}` (expected {}{}{})",
                    required.join(", "),
                    if optional.is_empty() { "" } else { ", optionally " },
                    optional.join(", ")
                )));
            }
            if index.insert(name.clone(), i).is_some() {
                return Err(AppError::invalid(format!("line 1: column `{name}` appears twice")));
            }
        }
        for r in required {
            if !index.contains_key(*r) {
                return Err(AppError::invalid(format!("line 1: the header lacks the column `{r}`")));
            }
        }
        Ok(Self { index, width: headers.len() })
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        self.index.get(name).and_then(|&i| record.get(i)).map(str::trim).filter(|v| !v.is_empty())
    }
}

fn reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::None).from_reader(input)
}

/// Runs `each` for every data line with its line number, turning per-line
/// problems into rejections; stops on an error that is not about the line
/// (the database is down).
fn for_each_line<R: Read>(
    input: R,
    required: &[&str],
    optional: &[&str],
    mut each: impl FnMut(&Columns, &csv::StringRecord, u64, &mut ImportReport) -> AppResult<Upserted>,
) -> AppResult<ImportReport> {
    let mut rdr = reader(input);
    let headers = rdr.headers().map_err(|e| AppError::invalid(format!("line 1: cannot read the header: {e}")))?.clone();
    let columns = Columns::new(&headers, required, optional)?;
    let mut report = ImportReport::default();
    for result in rdr.records() {
        let record = match result {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.rejected.push(Rejected { line, reason: format!("unreadable CSV: {e}") });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != columns.width {
            report
                .rejected
                .push(Rejected { line, reason: format!("expected {} columns, found {}", columns.width, record.len()) });
            continue;
        }
        match each(&columns, &record, line, &mut report) {
            Ok(outcome) => report.count(outcome),
            Err(e) if matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Internal) => return Err(e),
            Err(e) => report.rejected.push(Rejected { line, reason: e.message().to_string() }),
        }
    }
    Ok(report)
}

fn parse_enum<T: std::str::FromStr<Err = crate::db::UnknownVariant>>(value: Option<&str>) -> AppResult<Option<T>> {
    value.map(|v| v.to_ascii_lowercase().parse::<T>().map_err(|e| AppError::invalid(e.to_string()))).transpose()
}

/// Imports institutions from CSV.
pub fn institutions<R: Read>(
    conn: &mut AnyConnection,
    plans: &Plans,
    input: R,
    actor: Actor,
) -> AppResult<ImportReport> {
    let mut seen_slugs: HashMap<String, u64> = HashMap::new();
    let mut seen_domains: HashMap<String, u64> = HashMap::new();
    for_each_line(input, &["slug", "name"], &["domains", "default_plan", "status"], |cols, record, line, _| {
        let slug = normalize_slug(cols.get(record, "slug").unwrap_or(""))?;
        if let Some(first) = seen_slugs.get(&slug) {
            return Err(AppError::invalid(format!("slug `{slug}` already appears on line {first}")));
        }
        let domains: Option<Vec<String>> = cols
            .get(record, "domains")
            .map(|d| d.split([' ', ';', ',']).filter(|s| !s.is_empty()).map(str::to_string).collect());
        if let Some(list) = &domains {
            for d in list {
                let d = normalize_domain(d)?;
                if let Some(first) = seen_domains.get(&d) {
                    return Err(AppError::invalid(format!("duplicate domain `{d}`: already on line {first}")));
                }
            }
        }
        let input = InstitutionInput {
            slug: slug.clone(),
            name: cols.get(record, "name").unwrap_or("").to_string(),
            default_plan: cols.get(record, "default_plan").map(str::to_string),
            status: parse_enum::<InstitutionStatus>(cols.get(record, "status"))?,
            domains: domains.clone(),
        };
        let (_, outcome) = institutions::upsert(conn, plans, &input, actor)?;
        seen_slugs.insert(slug, line);
        for d in domains.unwrap_or_default() {
            if let Ok(d) = normalize_domain(&d) {
                seen_domains.insert(d, line);
            }
        }
        Ok(outcome)
    })
}

/// Imports instances from CSV.
pub fn instances<R: Read>(conn: &mut AnyConnection, plans: &Plans, input: R, actor: Actor) -> AppResult<ImportReport> {
    let mut seen: HashMap<String, u64> = HashMap::new();
    for_each_line(
        input,
        &["domain", "institution"],
        &["plan", "status", "mastodon_version", "region", "notes"],
        |cols, record, line, _| {
            let domain = normalize_domain(cols.get(record, "domain").unwrap_or(""))?;
            if let Some(first) = seen.get(&domain) {
                return Err(AppError::invalid(format!("duplicate domain `{domain}`: already on line {first}")));
            }
            let institution = cols.get(record, "institution").unwrap_or("");
            if institution.is_empty() {
                return Err(AppError::invalid("the institution column is empty"));
            }
            let input = InstanceInput {
                domain: domain.clone(),
                institution_slug: institution.to_string(),
                plan: cols.get(record, "plan").map(str::to_string),
                status: parse_enum::<InstanceStatus>(cols.get(record, "status"))?,
                mastodon_version: cols.get(record, "mastodon_version").map(str::to_string),
                region: cols.get(record, "region").map(str::to_string),
                notes: cols.get(record, "notes").map(str::to_string),
            };
            let (_, outcome) = instances::upsert(conn, plans, &input, actor)?;
            seen.insert(domain, line);
            Ok(outcome)
        },
    )
}
