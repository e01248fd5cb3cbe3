//! Volume tiers: which discount a measure (quantity or amount) earns.
use quotecast_model::{Percent, Tier, TierMethod};
use rust_decimal::Decimal;

/// The discount a measure earns under `tiers`, whose bounds are multiplied
/// by `bound_scale` first (1 for quantities; the currency's rate for
/// amounts written in the corporate currency).
///
/// * Range: everything at the percent of the tier `[from, to)` that holds
///   the measure.
/// * Slab: the measure is cut at the tier bounds and each part gets its
///   tier's percent ([`slab_parts`]); the result is the blended percent over
///   the whole measure, so that applied to the line's amount it prices every
///   unit at its own tier.
pub fn tier_discount(
    tiers: &[Tier],
    method: TierMethod,
    measure: Decimal,
    bound_scale: Decimal,
) -> Percent {
    if measure <= Decimal::ZERO {
        return Percent::ZERO;
    }
    match method {
        TierMethod::Range => tiers
            .iter()
            .find(|t| {
                measure >= t.from * bound_scale && t.to.is_none_or(|to| measure < to * bound_scale)
            })
            .map_or(Percent::ZERO, |t| t.discount),
        TierMethod::Slab => {
            let weighted = slab_parts(tiers, measure, bound_scale)
                .fold(Decimal::ZERO, |sum, (i, part)| {
                    sum + part * tiers[i].discount.0
                });
            Percent(weighted / measure)
        }
    }
}

/// The parts a slab schedule cuts `measure` into: `(tier index, part)` in
/// tier order, for the tiers the measure reaches.
pub fn slab_parts(
    tiers: &[Tier],
    measure: Decimal,
    bound_scale: Decimal,
) -> impl Iterator<Item = (usize, Decimal)> + '_ {
    tiers
        .iter()
        .enumerate()
        .map_while(move |(i, tier)| {
            let from = tier.from * bound_scale;
            (measure > from).then(|| {
                let upper = tier.to.map_or(measure, |to| measure.min(to * bound_scale));
                (i, upper - from)
            })
        })
        .filter(|(_, part)| *part > Decimal::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Vec<Tier> {
        // [0,10) 0 %, [10,50) 5 %, [50,∞) 10 %
        vec![
            Tier {
                from: Decimal::from(0),
                to: Some(Decimal::from(10)),
                discount: Percent(Decimal::from(0)),
            },
            Tier {
                from: Decimal::from(10),
                to: Some(Decimal::from(50)),
                discount: Percent(Decimal::from(5)),
            },
            Tier {
                from: Decimal::from(50),
                to: None,
                discount: Percent(Decimal::from(10)),
            },
        ]
    }

    #[test]
    fn bounds_are_what_their_docs_say() {
        assert_eq!(crate::MAX_QUANTITY, Decimal::from(100_000_000u64));
        assert_eq!(
            crate::MAX_DISCOUNT_AMOUNT,
            Decimal::from(1_000_000_000_000_000u64)
        );
    }

    #[test]
    fn range_gives_everything_the_reached_tier() {
        let p = tier_discount(&tiers(), TierMethod::Range, Decimal::from(60), Decimal::ONE);
        assert_eq!(p, Percent(Decimal::from(10)));
        let p = tier_discount(&tiers(), TierMethod::Range, Decimal::from(10), Decimal::ONE);
        assert_eq!(p, Percent(Decimal::from(5)));
    }

    #[test]
    fn slab_prices_each_part_at_its_tier() {
        // 60 units: 10 at 0 %, 40 at 5 %, 10 at 10 % -> (0 + 200 + 100) / 60 = 5 %
        let p = tier_discount(&tiers(), TierMethod::Slab, Decimal::from(60), Decimal::ONE);
        assert_eq!(p, Percent(Decimal::from(5)));
        assert_eq!(
            slab_parts(&tiers(), Decimal::from(60), Decimal::ONE).collect::<Vec<_>>(),
            vec![
                (0, Decimal::from(10)),
                (1, Decimal::from(40)),
                (2, Decimal::from(10))
            ]
        );
    }

    #[test]
    fn amount_bounds_scale_with_the_currency_rate() {
        // Bounds 10 and 50 corporate units at 7 per unit become 70 and 350.
        let p = tier_discount(
            &tiers(),
            TierMethod::Range,
            Decimal::from(69),
            Decimal::from(7),
        );
        assert_eq!(p, Percent::ZERO);
        let p = tier_discount(
            &tiers(),
            TierMethod::Range,
            Decimal::from(70),
            Decimal::from(7),
        );
        assert_eq!(p, Percent(Decimal::from(5)));
    }
}
