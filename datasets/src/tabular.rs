//! Tabular data for the fairness family: CSV reading with errors that name file, line and column,
//! a deterministic encoder (label or one-hot codes for categorical columns, z-scoring), the UCI
//! Adult preset as distributed, and a generated biased stream with a known group effect.
//!
//! Encoding follows the Aranyani reference (`src/data.py`): categorical columns are label-encoded
//! with codes in sorted order of their values (scikit-learn's `LabelEncoder`), then every feature
//! column is z-scored with the sample standard deviation (ddof 1, pandas' default). Statistics and
//! categories come from the training file and are reused for a test file; a category the training
//! file never showed is an error by default, or the extra code `categories.len()` ("other") when
//! [`UnknownCategory::Other`] is chosen.

use crate::error::{DataError, Result};
use crate::rng::Rng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A CSV file as strings, with the line number of every row.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file.
    pub path: PathBuf,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of trimmed fields, each as long as `columns`.
    pub rows: Vec<Vec<String>>,
    /// 1-based line number of each row in the file.
    pub lines: Vec<usize>,
}

/// How to read a CSV file.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// Column names when the file has no header line (`None`: the first line is the header).
    pub columns: Option<Vec<String>>,
    /// Lines to skip before the data (or the header), e.g. Adult's `|1x3 Cross validator`.
    pub skip_lines: usize,
}

impl Table {
    /// Reads `path`. Fields are trimmed (Adult separates them with `", "`); blank lines are
    /// skipped; a row with the wrong number of fields is an error naming its line.
    pub fn read(path: &Path, options: &CsvOptions) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut columns = options.columns.clone();
        let (mut rows, mut lines) = (Vec::new(), Vec::new());
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                DataError::at_line(path, line, None, format!("not valid CSV: {e}"))
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            if line <= options.skip_lines || record.iter().all(str::is_empty) {
                continue;
            }
            let fields: Vec<String> = record.iter().map(str::to_string).collect();
            let Some(names) = &columns else {
                columns = Some(fields);
                continue;
            };
            if fields.len() != names.len() {
                return Err(DataError::at_line(
                    path,
                    line,
                    None,
                    format!(
                        "{} fields where the file has {} columns ({})",
                        fields.len(),
                        names.len(),
                        names.join(", ")
                    ),
                ));
            }
            rows.push(fields);
            lines.push(line);
        }
        let columns = columns.ok_or_else(|| DataError::format(path, "empty file: no header line"))?;
        if rows.is_empty() {
            return Err(DataError::format(path, "no data rows"));
        }
        Ok(Self {
            path: path.to_path_buf(),
            columns,
            rows,
            lines,
        })
    }

    /// Index of column `name`, or an error listing the columns.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| {
            DataError::format(
                &self.path,
                format!("no column `{name}`; the columns are {}", self.columns.join(", ")),
            )
        })
    }
}

/// How categorical columns become numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Categorical {
    /// One code per category, in sorted order (the reference's `LabelEncoder`).
    #[default]
    Label,
    /// One 0/1 column per category.
    OneHot,
}

/// What a category unseen in the training file becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownCategory {
    /// An error naming file, line and column.
    #[default]
    Error,
    /// The extra code `categories.len()` (all-zero under one-hot).
    Other,
}

/// Which columns are what, and how to encode them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TabularSpec {
    /// The label column.
    pub label: String,
    /// Label values (after a trailing `.` is removed, as in Adult's test file) that are class 1;
    /// every other value is class 0. Empty: the label column holds the integers 0 and 1.
    pub positive: Vec<String>,
    /// The protected-attribute column.
    pub sensitive: String,
    /// Its value that is group a = 1; every other value is group 0.
    pub sensitive_value: String,
    /// Keep the protected attribute among the features (the reference does, for Adult).
    pub sensitive_as_feature: bool,
    /// Columns used as features (empty: every column but the label and the dropped ones).
    pub features: Vec<String>,
    /// Columns left out of the features.
    pub drop: Vec<String>,
    /// Columns to treat as categorical even if every value parses as a number.
    pub categorical: Vec<String>,
    /// Encoding of categorical columns.
    pub encoding: Categorical,
    /// Z-score every feature column with the training file's mean and sample std (on by default:
    /// raw features saturate the trees' sigmoids).
    pub zscore: bool,
    /// What an unseen category in a later file becomes.
    pub unknown: UnknownCategory,
}

impl Default for TabularSpec {
    fn default() -> Self {
        Self {
            label: String::new(),
            positive: Vec::new(),
            sensitive: String::new(),
            sensitive_value: String::new(),
            sensitive_as_feature: true,
            features: Vec::new(),
            drop: Vec::new(),
            categorical: Vec::new(),
            encoding: Categorical::Label,
            zscore: true,
            unknown: UnknownCategory::Error,
        }
    }
}

/// The UCI Adult column names, in file order.
pub const ADULT_COLUMNS: [&str; 15] = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
];

/// UCI Adult as the reference uses it: label income `>50K` = 1, protected attribute sex with
/// Male = 1, all 14 other columns as features (sex included), label-encoded and z-scored;
/// `?` (missing) is kept as a category of its own.
pub fn adult_spec() -> TabularSpec {
    TabularSpec {
        label: "income".into(),
        positive: vec![">50K".into()],
        sensitive: "sex".into(),
        sensitive_value: "Male".into(),
        ..TabularSpec::default()
    }
}

/// CSV options for Adult's `adult.data` / `adult.test` (no header; the test file's first line is
/// `|1x3 Cross validator`).
pub fn adult_csv(test_file: bool) -> CsvOptions {
    CsvOptions {
        columns: Some(ADULT_COLUMNS.iter().map(|s| s.to_string()).collect()),
        skip_lines: usize::from(test_file),
    }
}

/// ProPublica COMPAS (`compas-scores-two-years.csv`, with header): label `two_year_recid`,
/// protected attribute race with Caucasian = 1, the reference's feature columns (juvenile counts,
/// priors, age, charge degree and description, age category, sex, race), label-encoded. The
/// reference does not standardise COMPAS; z-scoring stays on here (raw counts saturate the
/// sigmoids), set `zscore = false` to follow it.
pub fn compas_spec() -> TabularSpec {
    TabularSpec {
        label: "two_year_recid".into(),
        sensitive: "race".into(),
        sensitive_value: "Caucasian".into(),
        features: [
            "juv_fel_count",
            "juv_misd_count",
            "juv_other_count",
            "priors_count",
            "age",
            "c_charge_degree",
            "c_charge_desc",
            "age_cat",
            "sex",
            "race",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        unknown: UnknownCategory::Other,
        ..TabularSpec::default()
    }
}

/// The KDD Census-Income (1994/95) column names of `census-income.data` / `.test`, in file order.
pub const CENSUS_COLUMNS: [&str; 42] = [
    "age",
    "class of worker",
    "detailed industry recode",
    "detailed occupation recode",
    "education",
    "wage per hour",
    "enroll in edu inst last wk",
    "marital stat",
    "major industry code",
    "major occupation code",
    "race",
    "hispanic origin",
    "sex",
    "member of a labor union",
    "reason for unemployment",
    "full or part time employment stat",
    "capital gains",
    "capital losses",
    "dividends from stocks",
    "tax filer stat",
    "region of previous residence",
    "state of previous residence",
    "detailed household and family stat",
    "detailed household summary in household",
    "instance weight",
    "migration code-change in msa",
    "migration code-change in reg",
    "migration code-move within reg",
    "live in this house 1 year ago",
    "migration prev res in sunbelt",
    "num persons worked for employer",
    "family members under 18",
    "country of birth father",
    "country of birth mother",
    "country of birth self",
    "citizenship",
    "own business or self employed",
    "fill inc questionnaire for veteran's admin",
    "veterans benefits",
    "weeks worked in year",
    "year",
    "income",
];

/// KDD Census-Income as the reference uses it: label income `50000+` = 1, protected attribute
/// sex with Male = 1, the instance weight dropped, 40 features label-encoded and z-scored.
pub fn census_spec() -> TabularSpec {
    TabularSpec {
        label: "income".into(),
        positive: vec!["50000+".into()],
        sensitive: "sex".into(),
        sensitive_value: "Male".into(),
        drop: vec!["instance weight".into()],
        unknown: UnknownCategory::Other,
        ..TabularSpec::default()
    }
}

/// CSV options for the KDD Census-Income files (no header).
pub fn census_csv() -> CsvOptions {
    CsvOptions {
        columns: Some(CENSUS_COLUMNS.iter().map(|s| s.to_string()).collect()),
        skip_lines: 0,
    }
}

/// One encoded instance: features, label (0/1) and protected group (0/1).
#[derive(Debug, Clone, PartialEq)]
pub struct TabularItem {
    /// Encoded features.
    pub features: Vec<f32>,
    /// Class, 0 or 1.
    pub label: usize,
    /// Protected group a, 0 or 1.
    pub group: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ColumnCode {
    name: String,
    /// Sorted categories; `None` for a numeric column.
    categories: Option<Vec<String>>,
}

/// An encoder fitted on a training table, reused for later files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    spec: TabularSpec,
    columns: Vec<ColumnCode>,
    /// Per output feature: mean and std used for z-scoring (0 and 1 when off).
    mean: Vec<f64>,
    std: Vec<f64>,
    feature_names: Vec<String>,
}

fn label_value(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}

impl Encoder {
    /// Fits categories and statistics on `table`.
    pub fn fit(table: &Table, spec: &TabularSpec) -> Result<Self> {
        table.column(&spec.label)?;
        table.column(&spec.sensitive)?;
        for name in spec.drop.iter().chain(&spec.categorical).chain(&spec.features) {
            table.column(name)?;
        }
        let mut columns = Vec::new();
        for (c, name) in table.columns.iter().enumerate() {
            if *name == spec.label
                || spec.drop.contains(name)
                || (!spec.features.is_empty() && !spec.features.contains(name))
                || (*name == spec.sensitive && !spec.sensitive_as_feature)
            {
                continue;
            }
            let numeric = !spec.categorical.contains(name)
                && *name != spec.sensitive
                && table.rows.iter().all(|r| r[c].parse::<f64>().is_ok());
            let categories = (!numeric).then(|| {
                let mut v: Vec<String> = table.rows.iter().map(|r| r[c].clone()).collect();
                v.sort();
                v.dedup();
                v
            });
            columns.push(ColumnCode {
                name: name.clone(),
                categories,
            });
        }
        let mut feature_names = Vec::new();
        for col in &columns {
            match (&col.categories, spec.encoding) {
                (Some(cats), Categorical::OneHot) => {
                    feature_names.extend(cats.iter().map(|v| format!("{}={v}", col.name)))
                }
                _ => feature_names.push(col.name.clone()),
            }
        }
        let width = feature_names.len();
        let mut enc = Self {
            spec: spec.clone(),
            columns,
            mean: vec![0.0; width],
            std: vec![1.0; width],
            feature_names,
        };
        if spec.zscore {
            let raw = enc.raw_rows(table)?;
            let n = raw.len() as f64;
            for j in 0..width {
                let mean = raw.iter().map(|r| r[j]).sum::<f64>() / n;
                let var = raw.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
                enc.mean[j] = mean;
                // A constant column stays centred instead of dividing by zero.
                enc.std[j] = if var > 0.0 { var.sqrt() } else { 1.0 };
            }
        }
        Ok(enc)
    }

    /// Names of the encoded features, in order (`column=value` for one-hot columns).
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Width of an encoded feature vector.
    pub fn dim(&self) -> usize {
        self.feature_names.len()
    }

    fn raw_rows(&self, table: &Table) -> Result<Vec<Vec<f64>>> {
        let idx: Vec<usize> = self
            .columns
            .iter()
            .map(|c| table.column(&c.name))
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(table.rows.len());
        for (row, &line) in table.rows.iter().zip(&table.lines) {
            let mut v = Vec::with_capacity(self.dim());
            for (col, &i) in self.columns.iter().zip(&idx) {
                let s = &row[i];
                match &col.categories {
                    None => v.push(s.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                        DataError::at_line(
                            &table.path,
                            line,
                            Some(&col.name),
                            format!("not a finite number: `{s}`"),
                        )
                    })?),
                    Some(cats) => {
                        let code = match cats.binary_search(s) {
                            Ok(k) => k,
                            Err(_) if self.spec.unknown == UnknownCategory::Other => cats.len(),
                            Err(_) => {
                                return Err(DataError::at_line(
                                    &table.path,
                                    line,
                                    Some(&col.name),
                                    format!(
                                        "category `{s}` does not occur in the training file (known: {}); \
                                         set unknown = \"other\" to map unseen categories to an extra code",
                                        cats.join(", ")
                                    ),
                                ));
                            }
                        };
                        match self.spec.encoding {
                            Categorical::Label => v.push(code as f64),
                            Categorical::OneHot => {
                                v.extend((0..cats.len()).map(|k| if k == code { 1.0 } else { 0.0 }))
                            }
                        }
                    }
                }
            }
            out.push(v);
        }
        Ok(out)
    }

    /// Encodes every row of `table` (which must have the training table's columns).
    pub fn encode(&self, table: &Table) -> Result<Vec<TabularItem>> {
        let label_col = table.column(&self.spec.label)?;
        let group_col = table.column(&self.spec.sensitive)?;
        let raw = self.raw_rows(table)?;
        let mut items = Vec::with_capacity(raw.len());
        for ((row, r), &line) in table.rows.iter().zip(raw).zip(&table.lines) {
            let y = label_value(&row[label_col]);
            let label = if self.spec.positive.is_empty() {
                match y {
                    "0" => 0,
                    "1" => 1,
                    _ => {
                        return Err(DataError::at_line(
                            &table.path,
                            line,
                            Some(&self.spec.label),
                            format!("label `{y}` is not 0 or 1 (name the positive values to binarise it)"),
                        ));
                    }
                }
            } else {
                usize::from(self.spec.positive.iter().any(|p| p == y))
            };
            let features = r
                .iter()
                .zip(self.mean.iter().zip(&self.std))
                .map(|(x, (m, s))| ((x - m) / s) as f32)
                .collect();
            items.push(TabularItem {
                features,
                label,
                group: u8::from(row[group_col] == self.spec.sensitive_value),
            });
        }
        Ok(items)
    }
}

/// A generated stream with a known group effect: group a ~ Bernoulli(`p_group`), features
/// x ~ N(shift * a, I), label y = 1\[w . x + `effect` * a + noise > 0\] with a fixed random w and
/// N(0, 0.5^2) noise. `effect` is the direct influence of the group on the label, so a model that
/// fits the labels inherits a demographic-parity gap that a fair model has to trade away.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BiasedStream {
    /// Instances in the stream.
    pub train: usize,
    /// Held-out instances.
    pub test: usize,
    /// Feature dimension.
    pub dim: usize,
    /// Probability of group 1.
    pub p_group: f64,
    /// Mean shift of group 1's features (how well the group can be read from x).
    pub shift: f64,
    /// Direct effect of the group on the label.
    pub effect: f64,
    /// Seed of the draw.
    pub seed: u64,
}

impl Default for BiasedStream {
    fn default() -> Self {
        Self {
            train: 20_000,
            test: 5_000,
            dim: 10,
            p_group: 0.6,
            shift: 0.5,
            effect: 1.5,
            seed: 0,
        }
    }
}

impl BiasedStream {
    /// The training stream and the held-out set.
    pub fn generate(&self) -> Result<(Vec<TabularItem>, Vec<TabularItem>)> {
        if self.dim == 0 || self.train == 0 || !(0.0..=1.0).contains(&self.p_group) {
            return Err(DataError::invalid(
                "biased stream: need dim >= 1, train >= 1 and p_group in [0, 1]",
            ));
        }
        let mut rng = Rng::seed_from_u64(self.seed);
        let w: Vec<f64> = (0..self.dim).map(|_| StandardNormal.sample(&mut rng)).collect();
        let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        let mut draw = |n: usize| {
            (0..n)
                .map(|_| {
                    let a = rand::RngExt::random_bool(&mut rng, self.p_group);
                    let shift = if a { self.shift } else { 0.0 };
                    let x: Vec<f64> = (0..self.dim)
                        .map(|_| Distribution::<f64>::sample(&StandardNormal, &mut rng) + shift)
                        .collect();
                    let noise: f64 = StandardNormal.sample(&mut rng);
                    let score = x.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() / norm
                        + if a { self.effect } else { 0.0 }
                        - self.effect * self.p_group
                        + 0.5 * noise;
                    TabularItem {
                        features: x.iter().map(|&v| v as f32).collect(),
                        label: usize::from(score > 0.0),
                        group: u8::from(a),
                    }
                })
                .collect::<Vec<_>>()
        };
        let train = draw(self.train);
        let test = draw(self.test);
        Ok((train, test))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }

    #[test]
    fn adult_format_encodes_like_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(
            dir.path(),
            "adult.data",
            "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K\n\
             50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0, 0, 13, United-States, >50K\n\
             38, ?, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, Black, Female, 0, 0, 40, ?, <=50K\n\n",
        );
        let test = write(
            dir.path(),
            "adult.test",
            "|1x3 Cross validator\n\
             25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, 0, 40, United-States, >50K.\n",
        );
        let t = Table::read(&train, &adult_csv(false)).unwrap();
        assert_eq!((t.rows.len(), t.lines.clone()), (3, vec![1, 2, 3]));
        let enc = Encoder::fit(&t, &adult_spec()).unwrap();
        assert_eq!(enc.dim(), 14);
        let items = enc.encode(&t).unwrap();
        assert_eq!(
            items.iter().map(|i| (i.label, i.group)).collect::<Vec<_>>(),
            [(0, 1), (1, 1), (0, 0)]
        );
        // age 39, 50, 38: mean 42.333, sample std 6.658.
        let z = (39.0 - 127.0 / 3.0) / 6.658328118479393;
        assert!((items[0].features[0] as f64 - z).abs() < 1e-6);
        // workclass codes in sorted order: `?` 0, Self-emp-not-inc 1, State-gov 2 -> mean 1, std 1.
        assert_eq!(
            [items[0].features[1], items[1].features[1], items[2].features[1]],
            [1.0, 0.0, -1.0]
        );
        // The test file: header line skipped, trailing dot on the label removed; `Private` and `11th`
        // never occur in this tiny training file.
        let tt = Table::read(&test, &adult_csv(true)).unwrap();
        let err = enc.encode(&tt).unwrap_err().to_string();
        assert!(
            err.contains("adult.test, line 2, field `workclass`") && err.contains("Private"),
            "{err}"
        );
        let lenient = Encoder::fit(
            &t,
            &TabularSpec {
                unknown: UnknownCategory::Other,
                ..adult_spec()
            },
        )
        .unwrap();
        let items = lenient.encode(&tt).unwrap();
        assert_eq!((items[0].label, items[0].group), (1, 1));
    }

    #[test]
    fn bad_files_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "d.csv", "x,color,y\n1,red,0\n2,blue\n");
        let err = Table::read(&p, &CsvOptions::default()).unwrap_err().to_string();
        assert!(
            err.contains("d.csv, line 3") && err.contains("2 fields where the file has 3"),
            "{err}"
        );
        let p = write(dir.path(), "e.csv", "x,color,y\n1,red,0\n2,blue,1\n");
        let t = Table::read(&p, &CsvOptions::default()).unwrap();
        let spec = TabularSpec {
            label: "label".into(),
            sensitive: "color".into(),
            sensitive_value: "red".into(),
            ..TabularSpec::default()
        };
        let err = Encoder::fit(&t, &spec).unwrap_err().to_string();
        assert!(
            err.contains("no column `label`") && err.contains("x, color, y"),
            "{err}"
        );
        let spec = TabularSpec {
            label: "y".into(),
            ..spec
        };
        let enc = Encoder::fit(&t, &spec).unwrap();
        let items = enc.encode(&t).unwrap();
        assert_eq!(
            items.iter().map(|i| (i.label, i.group)).collect::<Vec<_>>(),
            [(0, 1), (1, 0)]
        );
        let p = write(dir.path(), "f.csv", "x,color,y\n1,red,0\nabc,blue,1\n");
        let t2 = Table::read(&p, &CsvOptions::default()).unwrap();
        let err = enc.encode(&t2).unwrap_err().to_string();
        assert!(
            err.contains("f.csv, line 3, field `x`: not a finite number: `abc`"),
            "{err}"
        );
        let p = write(dir.path(), "n.csv", "x,color,y\n1,red,0\nNaN,blue,1\n");
        let err = enc
            .encode(&Table::read(&p, &CsvOptions::default()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("n.csv, line 3, field `x`: not a finite number: `NaN`"),
            "{err}"
        );
        let p = write(dir.path(), "g.csv", "x,color,y\n1,red,yes\n");
        let t3 = Table::read(&p, &CsvOptions::default()).unwrap();
        let err = enc.encode(&t3).unwrap_err().to_string();
        assert!(
            err.contains("line 2, field `y`: label `yes` is not 0 or 1"),
            "{err}"
        );
    }

    #[test]
    fn one_hot_columns_are_named_and_sum_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "h.csv", "x,color,y\n1,red,0\n2,blue,1\n3,green,1\n");
        let t = Table::read(&p, &CsvOptions::default()).unwrap();
        let spec = TabularSpec {
            label: "y".into(),
            sensitive: "color".into(),
            sensitive_value: "red".into(),
            categorical: vec!["x".into()],
            encoding: Categorical::OneHot,
            zscore: false,
            ..TabularSpec::default()
        };
        let enc = Encoder::fit(&t, &spec).unwrap();
        assert_eq!(
            enc.feature_names(),
            ["x=1", "x=2", "x=3", "color=blue", "color=green", "color=red"]
        );
        let items = enc.encode(&t).unwrap();
        assert_eq!(items[2].features, [0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn compas_and_census_presets_read_their_formats() {
        let dir = tempfile::tempdir().unwrap();
        // ProPublica's header (abridged to the columns the preset reads, plus two it ignores).
        let compas = write(
            dir.path(),
            "compas-scores-two-years.csv",
            "id,name,sex,age,age_cat,race,juv_fel_count,juv_misd_count,juv_other_count,priors_count,c_charge_degree,c_charge_desc,two_year_recid\n\
             1,a b,Male,69,Greater than 45,Other,0,0,0,0,F,Aggravated Assault,0\n\
             3,c d,Male,34,25 - 45,African-American,0,0,0,0,F,\"Felony Battery w/Prior Convict\",1\n\
             4,e f,Female,24,Less than 25,Caucasian,0,0,1,4,M,Battery,1\n",
        );
        let t = Table::read(&compas, &CsvOptions::default()).unwrap();
        let enc = Encoder::fit(&t, &compas_spec()).unwrap();
        assert_eq!(enc.dim(), 10);
        let items = enc.encode(&t).unwrap();
        assert_eq!(
            items.iter().map(|i| (i.label, i.group)).collect::<Vec<_>>(),
            [(0, 0), (1, 0), (1, 1)]
        );
        // KDD Census: 42 unnamed columns, the label `- 50000.` / `50000+.`, the weight dropped.
        let row = |sex: &str, income: &str| {
            let mut f: Vec<String> = (0..42).map(|i| format!("{i}")).collect();
            f[12] = format!(" {sex}");
            f[41] = format!(" {income}");
            f.join(",")
        };
        let census = write(
            dir.path(),
            "census-income.data",
            &format!("{}\n{}\n", row("Female", "- 50000."), row("Male", "50000+.")),
        );
        let t = Table::read(&census, &census_csv()).unwrap();
        let enc = Encoder::fit(&t, &census_spec()).unwrap();
        assert_eq!(enc.dim(), 40);
        assert!(
            !enc.feature_names()
                .iter()
                .any(|n| n == "instance weight" || n == "income")
        );
        let items = enc.encode(&t).unwrap();
        assert_eq!(
            items.iter().map(|i| (i.label, i.group)).collect::<Vec<_>>(),
            [(0, 0), (1, 1)]
        );
    }

    #[test]
    fn biased_stream_has_its_group_effect() {
        let (train, _) = BiasedStream::default().generate().unwrap();
        let rate = |g: u8| {
            let v: Vec<_> = train.iter().filter(|i| i.group == g).collect();
            v.iter().filter(|i| i.label == 1).count() as f64 / v.len() as f64
        };
        // The label gap between groups is large (the effect), and the draw is deterministic.
        assert!(rate(1) - rate(0) > 0.3, "{} {}", rate(1), rate(0));
        assert_eq!(train, BiasedStream::default().generate().unwrap().0);
    }
}
