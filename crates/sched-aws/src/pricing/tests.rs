//! Price list parsing and GetProducts through mocked clients.

use std::sync::{Arc, Mutex};

use aws_sdk_pricing::operation::get_products::{GetProductsError, GetProductsOutput};
use aws_sdk_pricing::Client;
use aws_smithy_mocks::{mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::*;

/// A GetProducts document as the Price List API answers it (trimmed of
/// attributes the parser does not read, with one reserved term kept).
fn document(sku: &str, instance_type: &str, usd: &str, market: Option<&str>) -> String {
    let mut attributes = serde_json::json!({
        "instanceType": instance_type,
        "regionCode": "us-east-1",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "vcpu": "2",
        "memory": "8 GiB",
        "usagetype": format!("BoxUsage:{instance_type}"),
        "servicecode": "AmazonEC2"
    });
    if let Some(market) = market {
        attributes["marketoption"] = market.into();
    }
    serde_json::json!({
        "product": { "productFamily": "Compute Instance", "attributes": attributes, "sku": sku },
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                format!("{sku}.JRTCKXETXF"): {
                    "priceDimensions": {
                        format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": format!("${usd} per On Demand Linux {instance_type} Instance Hour"),
                            "appliesTo": [],
                            "rateCode": format!("{sku}.JRTCKXETXF.6YS6EN2CT7"),
                            "beginRange": "0",
                            "pricePerUnit": { "USD": usd }
                        }
                    },
                    "sku": sku,
                    "effectiveDate": "2026-01-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {}
                }
            },
            "Reserved": {
                format!("{sku}.4NA7Y494T4"): {
                    "priceDimensions": {
                        format!("{sku}.4NA7Y494T4.6YS6EN2CT7"): {
                            "unit": "Hrs",
                            "pricePerUnit": { "USD": "0.0600000000" }
                        }
                    },
                    "offerTermCode": "4NA7Y494T4",
                    "termAttributes": { "LeaseContractLength": "1yr", "PurchaseOption": "No Upfront" }
                }
            }
        },
        "version": "20260101000000",
        "publicationDate": "2026-01-01T00:00:00Z"
    })
    .to_string()
}

#[test]
fn a_real_shaped_document_gives_its_hourly_on_demand_price() {
    let got = parse_product(0, &document("8VCNEHQMSCQS4P39", "m5.large", "0.0960000000", None))
        .unwrap()
        .unwrap();
    assert_eq!(got.sku, "8VCNEHQMSCQS4P39");
    assert_eq!(got.instance_type, "m5.large");
    assert_eq!(got.usd_per_hour, 0.096);
    assert!(got.plain_on_demand);
    let block = parse_product(0, &document("X", "p5.48xlarge", "31.4", Some("CapacityBlock")));
    assert!(!block.unwrap().unwrap().plain_on_demand);
}

#[test]
fn unreadable_documents_name_the_sku_field_and_value() {
    let err = parse_product(3, "{not json").unwrap_err();
    assert!(matches!(err, PriceListError::NotJson { index: 3, .. }), "{err}");

    let bad = document("SKU1", "m5.large", "abc", None);
    match parse_product(0, &bad).unwrap_err() {
        PriceListError::BadValue { sku, field, value, .. } => {
            assert_eq!(sku, "SKU1");
            assert_eq!(field, "terms.OnDemand.SKU1.JRTCKXETXF.priceDimensions.SKU1.JRTCKXETXF.6YS6EN2CT7.pricePerUnit.USD");
            assert_eq!(value, "\"abc\"");
        }
        other => panic!("{other}"),
    }
    let negative = document("SKU2", "m5.large", "-1", None);
    let err = parse_product(0, &negative).unwrap_err();
    assert!(err.to_string().contains("SKU2") && err.to_string().contains("\"-1\""), "{err}");

    let mut doc: Value = serde_json::from_str(&document("SKU3", "m5.large", "1", None)).unwrap();
    doc["product"]["attributes"].as_object_mut().unwrap().remove("instanceType");
    assert_eq!(
        parse_product(0, &doc.to_string()).unwrap_err(),
        PriceListError::Missing {
            sku: "SKU3".into(),
            field: "product.attributes.instanceType".into()
        }
    );
    doc["product"].as_object_mut().unwrap().remove("sku");
    assert_eq!(
        parse_product(0, &doc.to_string()).unwrap_err(),
        PriceListError::Missing { sku: "?".into(), field: "product.sku".into() }
    );
}

#[test]
fn products_without_an_hourly_on_demand_price_are_skipped() {
    let mut doc: Value = serde_json::from_str(&document("R", "m5.large", "1", None)).unwrap();
    doc["terms"].as_object_mut().unwrap().remove("OnDemand");
    assert_eq!(parse_product(0, &doc.to_string()).unwrap(), None);
    assert_eq!(parse_product(0, &document("Z", "m5.large", "0.0000000000", None)).unwrap(), None);
}

fn mocked(rules: &[&Rule]) -> Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_pricing::Config::builder()
        .behavior_version(aws_sdk_pricing::config::BehaviorVersion::latest())
        .region(aws_sdk_pricing::config::Region::new(PRICING_REGION))
        .credentials_provider(aws_sdk_pricing::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ))
        // Never sent: the interceptor answers first.
        .endpoint_url("http://127.0.0.1:9")
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor)
        .build();
    Client::from_conf(config)
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(1),
    }
}

fn filter_value(filters: &[Filter], name: &str) -> Option<String> {
    filters.iter().find(|f| f.field() == name).map(|f| {
        assert_eq!(f.r#type(), &FilterType::TermMatch, "{name}");
        f.value().to_owned()
    })
}

#[tokio::test]
async fn a_short_list_is_asked_for_type_by_type_with_every_filter() {
    let seen: Arc<Mutex<Vec<Vec<Filter>>>> = Arc::default();
    let record = seen.clone();
    let rule = mock!(Client::get_products)
        .match_requests(move |r| {
            record.lock().unwrap().push(r.filters().to_vec());
            r.service_code() == Some("AmazonEC2")
        })
        .then_compute_output(|r| {
            let ty = r.filters().iter().find(|f| f.field() == "instanceType").map(|f| f.value());
            let list = match ty {
                Some("m5.large") => vec![
                    document("A", "m5.large", "0.0960000000", None),
                    document("B", "m5.large", "0.0500000000", Some("CapacityBlock")),
                ],
                Some("c7g.xlarge") => vec![document("C", "c7g.xlarge", "0.1450000000", None)],
                _ => vec![],
            };
            GetProductsOutput::builder().set_price_list(Some(list)).format_version("aws_v1").build()
        });
    let client = mocked(&[&rule]);
    let types = ["m5.large", "c7g.xlarge", "z9.none"].map(String::from);
    let prices = on_demand_prices(&client, fast(), "eu-west-1", &types).await.unwrap();
    assert_eq!(prices.len(), 2, "{prices:?}");
    assert_eq!(prices["m5.large"], 0.096, "the plain on-demand price, not the capacity block");
    assert_eq!(prices["c7g.xlarge"], 0.145);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "one call per type");
    for (filters, ty) in seen.iter().zip(&types) {
        assert_eq!(filter_value(filters, "instanceType").as_deref(), Some(ty.as_str()));
        assert_eq!(filter_value(filters, "regionCode").as_deref(), Some("eu-west-1"));
        assert_eq!(filter_value(filters, "operatingSystem").as_deref(), Some("Linux"));
        assert_eq!(filter_value(filters, "tenancy").as_deref(), Some("Shared"));
        assert_eq!(filter_value(filters, "preInstalledSw").as_deref(), Some("NA"));
        assert_eq!(filter_value(filters, "capacitystatus").as_deref(), Some("Used"));
    }
}

#[tokio::test]
async fn a_long_list_pages_through_the_region_once() {
    let types: Vec<String> = (0..PER_TYPE_LIMIT + 1).map(|i| format!("m{i}.large")).collect();
    // (NextToken sent, instanceType filter sent) per call.
    type Calls = Arc<Mutex<Vec<(Option<String>, bool)>>>;
    let calls: Calls = Arc::default();
    let record = calls.clone();
    let rule = mock!(Client::get_products)
        .match_requests(move |r| {
            let typed = r.filters().iter().any(|f| f.field() == "instanceType");
            record.lock().unwrap().push((r.next_token().map(str::to_owned), typed));
            true
        })
        .then_compute_output(|r| match r.next_token() {
            None => GetProductsOutput::builder()
                .price_list(document("P1", "m0.large", "0.1", None))
                .price_list(document("P2", "other.type", "9.9", None))
                .next_token("page-2")
                .build(),
            Some(_) => GetProductsOutput::builder()
                .price_list(document("P3", "m1.large", "0.2", None))
                .build(),
        });
    let client = mocked(&[&rule]);
    let prices = on_demand_prices(&client, fast(), "us-east-1", &types).await.unwrap();
    assert_eq!(prices.len(), 2, "{prices:?}");
    assert_eq!((prices["m0.large"], prices["m1.large"]), (0.1, 0.2));
    assert_eq!(
        *calls.lock().unwrap(),
        [(None, false), (Some("page-2".to_owned()), false)],
        "two pages, no type filter"
    );
}

#[tokio::test]
async fn throttling_is_retried_and_a_refusal_keeps_its_code() {
    let rule = mock!(Client::get_products)
        .sequence()
        .error(|| {
            GetProductsError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .output(|| {
            GetProductsOutput::builder()
                .price_list(document("A", "m5.large", "0.096", None))
                .build()
        })
        .build();
    let client = mocked(&[&rule]);
    let prices =
        on_demand_prices(&client, fast(), "us-east-1", &["m5.large".to_owned()]).await.unwrap();
    assert_eq!(prices["m5.large"], 0.096);

    let denied = mock!(Client::get_products).then_error(|| {
        GetProductsError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized to perform: pricing:GetProducts")
                .build(),
        )
    });
    let client = mocked(&[&denied]);
    match on_demand_prices(&client, fast(), "us-east-1", &["m5.large".to_owned()]).await {
        Err(PricingError::Aws(e)) => {
            assert_eq!(
                (e.operation, e.code.as_str()),
                ("pricing:GetProducts", "AccessDeniedException")
            )
        }
        other => panic!("{other:?}"),
    }

    let broken = mock!(Client::get_products)
        .then_output(|| GetProductsOutput::builder().price_list("[]").build());
    let client = mocked(&[&broken]);
    let err =
        on_demand_prices(&client, fast(), "us-east-1", &["m5.large".to_owned()]).await.unwrap_err();
    assert!(matches!(err, PricingError::PriceList(PriceListError::Missing { .. })), "{err}");
}
