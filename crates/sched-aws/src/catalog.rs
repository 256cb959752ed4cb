//! A live catalog: instance types from DescribeInstanceTypes, spot prices
//! from the spot price history, on-demand prices from the Price List API
//! ([`crate::pricing`]); and a snapshot of it in the bundled CSV format.
//!
//! A reference catalog (the bundled snapshot or an earlier one) is
//! optional. By default it fills in on-demand prices the price list lacks
//! (or all of them, with a warning, when the Price List API cannot be
//! reached or is not allowed); with [`ReferenceUse::Override`] its prices
//! win. Interruption buckets, which no AWS API gives, come from it too.
//! A type with no on-demand price from either is left out (the catalog
//! format needs one per type). A live price the catalog loader would refuse
//! (outside [`MIN_PRICE_USD_HOUR`] to [`MAX_PRICE_USD_HOUR`]: an emulator's
//! placeholder, or a unit mix-up) counts as missing, so that a snapshot
//! always loads again; spot prices then fall back to the reference the same
//! way on-demand prices do.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use aws_sdk_ec2::types as ec2;
use sched_core::catalog::{
    Architecture, CapacityType, Catalog, InstanceType, InstanceTypeId, Offering, OfferingId,
    UsdPerHour, MAX_PRICE_USD_HOUR, MIN_PRICE_USD_HOUR,
};
use sched_core::policy::AllowList;
use tracing::{debug, info, warn};

use crate::call;
use crate::clients::Clients;
use crate::error::AwsError;
use crate::pricing::{self, PricingError};

/// How a reference catalog's prices combine with the live ones (the price
/// list's on-demand prices and the spot price history's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReferenceUse {
    /// The live price where there is one; the reference's otherwise.
    #[default]
    Fallback,
    /// The reference's price where it has one; the live one otherwise.
    Override,
}

/// A reference catalog and how to use it.
#[derive(Debug, Clone, Copy)]
pub struct Reference<'a> {
    /// The catalog.
    pub catalog: &'a Catalog,
    /// Fallback or override.
    pub used_as: ReferenceUse,
}

/// The types the account can rent, with their shapes.
pub async fn instance_types(
    clients: &Clients,
    allow: Option<&AllowList>,
) -> Result<Vec<InstanceType>, AwsError> {
    let mut types = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = call!(
            clients.retry,
            "ec2:DescribeInstanceTypes",
            clients.ec2.describe_instance_types().max_results(100).set_next_token(next.clone())
        )?;
        types.extend(page.instance_types().iter().filter_map(to_instance_type));
        let token = page.next_token().map(str::to_owned);
        if token.is_none() || token == next {
            break;
        }
        next = token;
    }
    types.retain(|t| allow.is_none_or(|a| a.allows(t)));
    types.sort_by(|a, b| a.name.cmp(&b.name));
    types.dedup_by(|a, b| a.name == b.name);
    debug!(types = types.len(), "instance types described");
    Ok(types)
}

/// One described type as the catalog holds it; `None` for a type without
/// vCPU or memory figures or of an architecture the scheduler does not run.
pub fn to_instance_type(info: &ec2::InstanceTypeInfo) -> Option<InstanceType> {
    let name = info.instance_type()?.as_str().to_owned();
    let vcpus = u32::try_from(info.v_cpu_info()?.default_v_cpus()?).ok()?;
    let memory_mib = u64::try_from(info.memory_info()?.size_in_mib()?).ok()?;
    let archs = info.processor_info()?.supported_architectures();
    let arch = if archs.contains(&ec2::ArchitectureType::X8664) {
        Architecture::X86_64
    } else if archs.contains(&ec2::ArchitectureType::Arm64) {
        Architecture::Arm64
    } else {
        return None;
    };
    let gpus_info = info.gpu_info().map(|g| g.gpus()).unwrap_or_default();
    let gpus = gpus_info.iter().filter_map(|g| g.count()).sum::<i32>().max(0) as u32;
    let gpu_model = gpus_info.first().and_then(|g| g.name()).map(str::to_owned);
    let accelerators = info
        .inference_accelerator_info()
        .map(|a| a.accelerators().iter().filter_map(|x| x.count()).sum::<i32>().max(0) as u32)
        .unwrap_or(0);
    let family = name.split('.').next().unwrap_or(&name).to_owned();
    Some(InstanceType { name, family, arch, vcpus, memory_mib, gpus, gpu_model, accelerators })
}

/// The lowest current Linux spot price of each type over the region's
/// zones, USD per hour.
pub async fn spot_prices(clients: &Clients) -> Result<HashMap<String, f64>, AwsError> {
    let mut prices: HashMap<String, f64> = HashMap::new();
    let mut next: Option<String> = None;
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    loop {
        let page = call!(
            clients.retry,
            "ec2:DescribeSpotPriceHistory",
            clients
                .ec2
                .describe_spot_price_history()
                .product_descriptions("Linux/UNIX")
                .start_time(now)
                .set_next_token(next.clone())
        )?;
        for entry in page.spot_price_history() {
            let (Some(ty), Some(price)) = (
                entry.instance_type().map(|t| t.as_str().to_owned()),
                entry.spot_price().and_then(|p| p.parse::<f64>().ok()),
            ) else {
                continue;
            };
            if price > 0.0 && price.is_finite() {
                let slot = prices.entry(ty).or_insert(price);
                *slot = slot.min(price);
            }
        }
        let token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() || token == next {
            break;
        }
        next = token;
    }
    Ok(prices)
}

/// Builds a catalog of `region` from the live types, spot prices and
/// on-demand prices, with `reference` (if any) combined as it says and
/// giving interruption buckets.
pub fn assemble(
    region: &str,
    types: Vec<InstanceType>,
    spot: &HashMap<String, f64>,
    on_demand: &HashMap<String, f64>,
    reference: Option<Reference<'_>>,
) -> Catalog {
    let mut known: HashMap<&str, (Option<f64>, Option<&Offering>)> = HashMap::new();
    if let Some(reference) = reference {
        let catalog = reference.catalog;
        for offering in catalog.offerings() {
            let name = catalog.offering_type(offering.id).name.as_str();
            let slot = known.entry(name).or_default();
            match offering.capacity_type {
                CapacityType::OnDemand => slot.0 = Some(offering.price.0),
                CapacityType::Spot => slot.1 = Some(offering),
            }
        }
    }
    let used_as = reference.map(|r| r.used_as).unwrap_or_default();
    let mut implausible = ImplausiblePrices::default();
    let mut kept = Vec::new();
    let mut offerings = Vec::new();
    for ty in types {
        let (reference_on_demand, reference_spot) =
            known.get(ty.name.as_str()).copied().unwrap_or_default();
        let live = implausible.check(&ty.name, on_demand.get(&ty.name).copied());
        let chosen = match used_as {
            ReferenceUse::Fallback => live.or(reference_on_demand),
            ReferenceUse::Override => reference_on_demand.or(live),
        };
        let Some(on_demand) = chosen else {
            debug!(instance_type = %ty.name, "no on-demand price: left out");
            continue;
        };
        let id = InstanceTypeId(kept.len() as u32);
        offerings.push(Offering {
            id: OfferingId(0),
            instance_type: id,
            capacity_type: CapacityType::OnDemand,
            zone: None,
            price: UsdPerHour(on_demand),
            interruption: None,
        });
        let live_spot = implausible.check(&ty.name, spot.get(&ty.name).copied());
        let reference_spot_price = reference_spot.map(|o| o.price.0);
        let spot_price = match used_as {
            ReferenceUse::Fallback => live_spot.or(reference_spot_price),
            ReferenceUse::Override => reference_spot_price.or(live_spot),
        };
        if let Some(price) = spot_price {
            offerings.push(Offering {
                id: OfferingId(0),
                instance_type: id,
                capacity_type: CapacityType::Spot,
                zone: None,
                price: UsdPerHour(price),
                interruption: reference_spot.and_then(|o| o.interruption),
            });
        }
        kept.push(ty);
    }
    implausible.report();
    info!(types = kept.len(), offerings = offerings.len(), "live catalog");
    // Names are unique (deduplicated above) and every offering points at a
    // kept type, the two things `Catalog::new` checks.
    Catalog::new(region, kept, offerings).unwrap_or_default()
}

/// Live prices the catalog loader would refuse, counted to be reported once.
#[derive(Default)]
struct ImplausiblePrices {
    count: usize,
    first: Option<(String, f64)>,
}

impl ImplausiblePrices {
    /// `price` when the loader would take it, `None` (counted) otherwise.
    fn check(&mut self, instance_type: &str, price: Option<f64>) -> Option<f64> {
        let price = price?;
        if (MIN_PRICE_USD_HOUR..=MAX_PRICE_USD_HOUR).contains(&price) {
            return Some(price);
        }
        self.count += 1;
        self.first.get_or_insert_with(|| (instance_type.to_owned(), price));
        None
    }

    fn report(&self) {
        if let Some((instance_type, price)) = &self.first {
            warn!(
                count = self.count,
                first_type = %instance_type,
                first_price = price,
                "live prices outside {MIN_PRICE_USD_HOUR} to {MAX_PRICE_USD_HOUR} USD/h ignored \
                 (the reference's used where it has one)"
            );
        }
    }
}

/// The live catalog of the clients' region. The Price List API gives
/// on-demand prices; if it fails and a reference is given, the reference's
/// prices are used, with a warning; without one the failure is returned.
pub async fn live_catalog(
    clients: &Clients,
    region: &str,
    allow: Option<&AllowList>,
    reference: Option<Reference<'_>>,
) -> Result<Catalog, PricingError> {
    let types = instance_types(clients, allow).await?;
    let spot = spot_prices(clients).await?;
    let names: Vec<String> = types.iter().map(|t| t.name.clone()).collect();
    let on_demand =
        match pricing::on_demand_prices(&clients.pricing, clients.retry, region, &names).await {
            Ok(prices) => prices,
            Err(e) if reference.is_some() => {
                warn!(error = %e, "no price list: on-demand prices from the reference catalog");
                HashMap::new()
            }
            Err(e) => return Err(e),
        };
    Ok(assemble(region, types, &spot, &on_demand, reference))
}

/// The catalog in the bundled CSV format, loadable with
/// [`Catalog::from_csv_reader`].
pub fn to_csv(catalog: &Catalog) -> String {
    let mut by_type: BTreeMap<u32, (Option<f64>, Option<&Offering>)> = BTreeMap::new();
    for offering in catalog.offerings() {
        let slot = by_type.entry(offering.instance_type.0).or_default();
        match offering.capacity_type {
            CapacityType::OnDemand => slot.0 = Some(offering.price.0),
            CapacityType::Spot => slot.1 = Some(offering),
        }
    }
    let mut out = String::from(
        "instance_type,family,vcpus,memory_gib,arch,gpus,gpu_model,accelerators,ondemand_usd_hour,spot_usd_hour,interruption_bucket,region\n",
    );
    for (index, (on_demand, spot)) in by_type {
        let Some(on_demand) = on_demand else { continue };
        let ty = catalog.instance_type(InstanceTypeId(index));
        let arch = match ty.arch {
            Architecture::Arm64 => "arm64",
            _ => "x86_64",
        };
        let _ = writeln!(
            out,
            "{},{},{},{:.6},{arch},{},{},{},{on_demand},{},{},{}",
            ty.name,
            ty.family,
            ty.vcpus,
            ty.memory_mib as f64 / 1024.0,
            ty.gpus,
            ty.gpu_model.as_deref().unwrap_or("").replace([',', ' '], "-"),
            ty.accelerators,
            spot.map(|s| s.price.0.to_string()).unwrap_or_default(),
            spot.and_then(|s| s.interruption).map(|b| b.0.to_string()).unwrap_or_default(),
            catalog.region,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips_through_the_catalog_loader() {
        let reference = Catalog::from_csv_reader(
            "instance_type,vcpus,memory_gib,arch,ondemand_usd_hour,spot_usd_hour,interruption_bucket,region\n\
             m6i.large,2,8.0,amd64,0.096,0.035,1,us-east-1\n\
             c7g.xlarge,4,8.0,arm64,0.145,,,us-east-1\n"
                .as_bytes(),
            "inline",
        )
        .unwrap();
        let ty = |name: &str, arch, vcpus, memory_mib| InstanceType {
            name: name.into(),
            family: name.split('.').next().unwrap().into(),
            arch,
            vcpus,
            memory_mib,
            gpus: 0,
            gpu_model: None,
            accelerators: 0,
        };
        let types2 = || {
            vec![
                ty("c7g.xlarge", Architecture::Arm64, 4, 8192),
                ty("m6i.large", Architecture::X86_64, 2, 8192),
                ty("z9.unknown", Architecture::X86_64, 2, 1740),
            ]
        };
        let types = types2();
        let spot =
            HashMap::from([("m6i.large".to_owned(), 0.031), ("c7g.xlarge".to_owned(), 0.05)]);
        let reference = Reference { catalog: &reference, used_as: ReferenceUse::Fallback };
        let live = assemble("us-east-1", types, &spot, &HashMap::new(), Some(reference));
        // The type without a reference price is left out.
        assert_eq!(live.types().len(), 2);
        assert_eq!(live.offerings().len(), 4);
        let m6i = live.find_type("m6i.large").unwrap();
        let spot_m6i = live
            .offerings()
            .iter()
            .find(|o| o.instance_type == m6i && o.capacity_type == CapacityType::Spot)
            .unwrap();
        assert_eq!(spot_m6i.price, UsdPerHour(0.031));
        assert_eq!(spot_m6i.interruption.map(|b| b.0), Some(1));

        // Price list prices win over the reference's unless it overrides.
        let listed = HashMap::from([("m6i.large".to_owned(), 0.1), ("z9.unknown".to_owned(), 0.5)]);
        let with_list = assemble("us-east-1", types2(), &spot, &listed, Some(reference));
        let price_of = |catalog: &Catalog, name: &str| {
            let id = catalog.find_type(name).unwrap();
            catalog
                .offerings()
                .iter()
                .find(|o| o.instance_type == id && o.capacity_type == CapacityType::OnDemand)
                .unwrap()
                .price
        };
        assert_eq!(price_of(&with_list, "m6i.large"), UsdPerHour(0.1));
        assert_eq!(price_of(&with_list, "c7g.xlarge"), UsdPerHour(0.145), "fallback");
        assert_eq!(price_of(&with_list, "z9.unknown"), UsdPerHour(0.5), "listed only");
        let overridden = Reference { used_as: ReferenceUse::Override, ..reference };
        let with_override = assemble("us-east-1", types2(), &spot, &listed, Some(overridden));
        assert_eq!(price_of(&with_override, "m6i.large"), UsdPerHour(0.096));
        assert_eq!(price_of(&with_override, "z9.unknown"), UsdPerHour(0.5));
        // Without a reference: the price list alone.
        let alone = assemble("us-east-1", types2(), &spot, &listed, None);
        assert_eq!(alone.types().len(), 2);
        assert_eq!(price_of(&alone, "m6i.large"), UsdPerHour(0.1));

        // An emulator's placeholder spot price (moto answers 0.00001) is
        // refused by the loader: it counts as missing, the reference's spot
        // price fills in where there is one, and the snapshot still loads.
        let placeholder =
            HashMap::from([("m6i.large".to_owned(), 0.00001), ("c7g.xlarge".to_owned(), 0.00001)]);
        let spot_of = |catalog: &Catalog, name: &str| {
            let id = catalog.find_type(name).unwrap();
            catalog
                .offerings()
                .iter()
                .find(|o| o.instance_type == id && o.capacity_type == CapacityType::Spot)
                .map(|o| o.price)
        };
        let patched = assemble("us-east-1", types2(), &placeholder, &listed, Some(reference));
        assert_eq!(spot_of(&patched, "m6i.large"), Some(UsdPerHour(0.035)));
        assert_eq!(spot_of(&patched, "c7g.xlarge"), None, "no reference spot price");
        assert!(Catalog::from_csv_reader(to_csv(&patched).as_bytes(), "patched").is_ok());
        let bare = assemble("us-east-1", types2(), &placeholder, &listed, None);
        assert_eq!(spot_of(&bare, "m6i.large"), None);

        let csv = to_csv(&live);
        let loaded = Catalog::from_csv_reader(csv.as_bytes(), "snapshot").unwrap();
        assert_eq!(loaded.types(), live.types());
        assert_eq!(loaded.offerings().len(), live.offerings().len());
        for (a, b) in loaded.offerings().iter().zip(live.offerings()) {
            assert_eq!(
                (a.capacity_type, a.price, a.interruption),
                (b.capacity_type, b.price, b.interruption)
            );
        }
    }
}
