//! On-demand prices from the AWS Price List API.
//!
//! GetProducts answers product documents of the `AmazonEC2` service as JSON
//! strings, one per SKU, each holding the product's attributes and its
//! terms. We ask for shared-tenancy Linux without pre-installed software,
//! capacity in use (`capacitystatus=Used`: not reservations), in one region,
//! and read the hourly USD price of the on-demand term. With a short list of
//! types each is asked for by name (`instanceType` filter); otherwise the
//! region's products are paged through once, which takes far fewer calls.
//!
//! A document that cannot be read is an error naming the SKU, the field and
//! the value: a silently skipped price would leave an instance type out of
//! the catalog. Products sold another way (Capacity Blocks, for one) share
//! the filters; where a type has several prices, the one sold on demand is
//! kept, the lowest if several are.
//!
//! The Price List API is served from a few regions only; the clients ask
//! [`PRICING_REGION`] whatever region the catalog is for.

use std::collections::HashMap;

use aws_sdk_pricing::types::{Filter, FilterType};
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::call;
use crate::error::{AwsError, RetryPolicy};

/// The region whose Price List endpoint the pricing client uses.
pub const PRICING_REGION: &str = "us-east-1";

/// Up to this many types are asked for one by one; more, region-wide.
pub const PER_TYPE_LIMIT: usize = 25;

/// A price list document that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriceListError {
    /// The document is not JSON.
    #[error("price list document {index}: not JSON: {message}")]
    NotJson {
        /// Its position in the answer.
        index: usize,
        /// The parser's words.
        message: String,
    },
    /// A field the price needs is missing.
    #[error("price list SKU {sku}: field {field} is missing")]
    Missing {
        /// The product's SKU (`?` when that is what is missing).
        sku: String,
        /// The JSON path of the field.
        field: String,
    },
    /// A field holds a value that is not usable.
    #[error("price list SKU {sku}: field {field} has value {value}: {reason}")]
    BadValue {
        /// The product's SKU.
        sku: String,
        /// The JSON path of the field.
        field: String,
        /// The value found.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Looking up prices failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PricingError {
    /// The call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// An answer could not be read.
    #[error(transparent)]
    PriceList(#[from] PriceListError),
}

/// The on-demand price of one product.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductPrice {
    /// The product's SKU.
    pub sku: String,
    /// Its instance type.
    pub instance_type: String,
    /// USD per hour.
    pub usd_per_hour: f64,
    /// False for products sold another way than plain on demand (the
    /// `marketoption` attribute, where present, is not `OnDemand`).
    pub plain_on_demand: bool,
}

fn field<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

fn text<'a>(value: &'a Value, path: &[&str], sku: &str) -> Result<&'a str, PriceListError> {
    let found = field(value, path)
        .ok_or_else(|| PriceListError::Missing { sku: sku.to_owned(), field: path.join(".") })?;
    found.as_str().ok_or_else(|| PriceListError::BadValue {
        sku: sku.to_owned(),
        field: path.join("."),
        value: found.to_string(),
        reason: "not a string".into(),
    })
}

/// Reads one GetProducts document (`index` is its place in the answer, for
/// errors). `None` when the product has no hourly on-demand price (only
/// reserved terms, or a price of 0, which no rented instance has).
pub fn parse_product(index: usize, document: &str) -> Result<Option<ProductPrice>, PriceListError> {
    let doc: Value = serde_json::from_str(document)
        .map_err(|e| PriceListError::NotJson { index, message: e.to_string() })?;
    let sku = text(&doc, &["product", "sku"], "?")?.to_owned();
    let instance_type = text(&doc, &["product", "attributes", "instanceType"], &sku)?.to_owned();
    let plain_on_demand = field(&doc, &["product", "attributes", "marketoption"])
        .and_then(Value::as_str)
        .is_none_or(|m| m == "OnDemand");
    let Some(terms) = field(&doc, &["terms", "OnDemand"]) else {
        debug!(%sku, %instance_type, "no on-demand term");
        return Ok(None);
    };
    let terms = terms.as_object().ok_or_else(|| PriceListError::BadValue {
        sku: sku.clone(),
        field: "terms.OnDemand".into(),
        value: terms.to_string(),
        reason: "not an object".into(),
    })?;
    let mut best: Option<f64> = None;
    for (term_code, term) in terms {
        let dimensions =
            field(term, &["priceDimensions"]).and_then(Value::as_object).ok_or_else(|| {
                PriceListError::Missing {
                    sku: sku.clone(),
                    field: format!("terms.OnDemand.{term_code}.priceDimensions"),
                }
            })?;
        for (rate_code, dimension) in dimensions {
            let path = format!("terms.OnDemand.{term_code}.priceDimensions.{rate_code}");
            let unit = text(dimension, &["unit"], &sku).map_err(|_| PriceListError::Missing {
                sku: sku.clone(),
                field: format!("{path}.unit"),
            })?;
            if unit != "Hrs" {
                continue;
            }
            let raw = field(dimension, &["pricePerUnit", "USD"]).ok_or_else(|| {
                PriceListError::Missing {
                    sku: sku.clone(),
                    field: format!("{path}.pricePerUnit.USD"),
                }
            })?;
            let bad = |reason: &str| PriceListError::BadValue {
                sku: sku.clone(),
                field: format!("{path}.pricePerUnit.USD"),
                value: raw.to_string(),
                reason: reason.to_owned(),
            };
            let price: f64 = raw
                .as_str()
                .ok_or_else(|| bad("not a string"))?
                .trim()
                .parse()
                .map_err(|_| bad("not a number"))?;
            if !price.is_finite() || price < 0.0 {
                return Err(bad("not a price"));
            }
            if price > 0.0 {
                best = Some(best.map_or(price, |b: f64| b.min(price)));
            }
        }
    }
    Ok(best.map(|usd_per_hour| ProductPrice { sku, instance_type, usd_per_hour, plain_on_demand }))
}

/// The GetProducts filters for Linux, shared tenancy, no pre-installed
/// software, capacity in use, in `region` (a region code such as
/// `us-east-1`), and the one `instance_type` if given.
pub fn filters(region: &str, instance_type: Option<&str>) -> Vec<Filter> {
    let mut pairs = vec![
        ("regionCode", region),
        ("operatingSystem", "Linux"),
        ("tenancy", "Shared"),
        ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"),
    ];
    pairs.extend(instance_type.map(|t| ("instanceType", t)));
    pairs
        .into_iter()
        .filter_map(|(name, value)| {
            // Field, type and value are all given: the build cannot fail.
            Filter::builder().field(name).value(value).r#type(FilterType::TermMatch).build().ok()
        })
        .collect()
}

/// Every product price GetProducts answers for `filters`, page by page.
async fn products(
    client: &aws_sdk_pricing::Client,
    retry: RetryPolicy,
    filters: Vec<Filter>,
) -> Result<Vec<ProductPrice>, PricingError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    let mut index = 0;
    loop {
        let page = call!(
            retry,
            "pricing:GetProducts",
            client
                .get_products()
                .service_code("AmazonEC2")
                .format_version("aws_v1")
                .set_filters(Some(filters.clone()))
                .max_results(100)
                .set_next_token(next.clone())
        )?;
        for document in page.price_list() {
            out.extend(parse_product(index, document)?);
            index += 1;
        }
        let token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() || token == next {
            break;
        }
        next = token;
    }
    Ok(out)
}

/// The on-demand Linux price, USD per hour, of each of `types` in `region`
/// that the price list has. Types it lacks are absent (and logged).
pub async fn on_demand_prices(
    client: &aws_sdk_pricing::Client,
    retry: RetryPolicy,
    region: &str,
    types: &[String],
) -> Result<HashMap<String, f64>, PricingError> {
    let mut found = Vec::new();
    if types.len() <= PER_TYPE_LIMIT {
        for ty in types {
            found.extend(products(client, retry, filters(region, Some(ty.as_str()))).await?);
        }
    } else {
        found = products(client, retry, filters(region, None)).await?;
    }
    let mut prices: HashMap<String, (bool, f64)> = HashMap::new();
    for product in found {
        if !types.contains(&product.instance_type) {
            continue;
        }
        let candidate = (product.plain_on_demand, product.usd_per_hour);
        prices
            .entry(product.instance_type)
            .and_modify(|best| {
                // Plain on demand first, then the lower price.
                if (candidate.0 && !best.0) || (candidate.0 == best.0 && candidate.1 < best.1) {
                    *best = candidate;
                }
            })
            .or_insert(candidate);
    }
    let missing = types.iter().filter(|t| !prices.contains_key(*t)).count();
    if missing > 0 {
        warn!(missing, region, "instance types without an on-demand price in the price list");
    }
    info!(prices = prices.len(), region, "on-demand prices read");
    Ok(prices.into_iter().map(|(ty, (_, price))| (ty, price)).collect())
}

#[cfg(test)]
mod tests;
