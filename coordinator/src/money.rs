//! Money as integer micro-units (one millionth of the currency unit), never
//! floating point: amounts add up exactly, and a report's total is the sum of
//! its lines to the micro-unit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Micro-units per currency unit.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An amount of money in micro-units. Serialised as an integer in JSON
/// (`*_micros` fields); configuration files write rates as decimal strings
/// (`"0.40"`), which [`Money::from_str`] parses exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i64);

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// The amount in micro-units.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// The cost of `render_ms` milliseconds at `self` per hour, rounded to
    /// the nearest micro-unit (halves up), computed in 128 bits; an amount
    /// beyond `i64` is an error, never a wrapped number.
    pub fn per_hour_for_ms(self, render_ms: i64) -> Result<Money, MoneyOverflow> {
        const MS_PER_HOUR: i128 = 3_600_000;
        let product = i128::from(self.0) * i128::from(render_ms.max(0));
        i64::try_from((product + MS_PER_HOUR / 2) / MS_PER_HOUR)
            .map(Money)
            .map_err(|_| MoneyOverflow("the cost of one render"))
    }

    /// `self + other`, or an error on overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyOverflow> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or(MoneyOverflow("a sum"))
    }

    /// `self - other`, or an error on overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyOverflow> {
        self.0
            .checked_sub(other.0)
            .map(Money)
            .ok_or(MoneyOverflow("a difference"))
    }

    /// The sum of `amounts`, or an error on overflow.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Result<Money, MoneyOverflow> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |total, amount| total.checked_add(amount))
    }
}

/// An amount that does not fit in 64 bits of micro-units: the accounting
/// stops with this error instead of reporting a wrapped number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("money overflow in {0}: the amount does not fit in 64 bits of micro-units")]
pub struct MoneyOverflow(pub &'static str);

impl fmt::Display for Money {
    /// Six decimals: `1.250000`, `-0.000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let unit = MICROS_PER_UNIT as u64;
        write!(f, "{sign}{}.{:06}", abs / unit, abs % unit)
    }
}

/// Why a decimal amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an amount: write a decimal number with at most 6 decimals, like \"0.40\"")]
pub struct BadAmount(pub String);

impl FromStr for Money {
    type Err = BadAmount;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadAmount(text.to_owned());
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 6 {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| bad())?;
        let micros = whole
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|w| w.checked_add(fraction))
            .ok_or_else(bad)?;
        Ok(Money(if negative { -micros } else { micros }))
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Money)
    }
}

/// Serde helpers for rates written as decimal strings in config files.
pub mod decimal {
    use super::Money;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write a [`Money`] as a decimal string.
    pub fn serialize<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&money.to_string())
    }

    /// Read a [`Money`] from a decimal string.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for optional amounts written as decimal strings.
pub mod optional_decimal {
    use super::Money;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write an optional [`Money`] as a decimal string, or nothing.
    pub fn serialize<S: Serializer>(
        money: &Option<Money>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match money {
            Some(money) => serializer.serialize_str(&money.to_string()),
            None => serializer.serialize_none(),
        }
    }

    /// Read an optional [`Money`] from a decimal string.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Money>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!("0.40".parse::<Money>().unwrap(), Money(400_000));
        assert_eq!("12".parse::<Money>().unwrap(), Money(12_000_000));
        assert_eq!("0.000001".parse::<Money>().unwrap(), Money(1));
        assert_eq!("-1.5".parse::<Money>().unwrap(), Money(-1_500_000));
        for bad in [
            "",
            ".5",
            "1.2345678",
            "1,5",
            "abc",
            "1.2.3",
            "99999999999999999",
        ] {
            assert!(bad.parse::<Money>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn display_round_trips() {
        for micros in [0, 1, 999_999, 1_000_000, 123_456_789, -42] {
            let money = Money(micros);
            assert_eq!(money.to_string().parse::<Money>().unwrap(), money);
        }
        assert_eq!(Money(1_250_000).to_string(), "1.250000");
    }

    #[test]
    fn time_costs_round_to_the_nearest_micro() {
        let rate: Money = "3.60".parse().unwrap();
        // 3.60 per hour is 1 micro per millisecond.
        assert_eq!(rate.per_hour_for_ms(1_234), Ok(Money(1_234)));
        assert_eq!(Money(1).per_hour_for_ms(1_800_000), Ok(Money(1)));
        assert_eq!(Money(1).per_hour_for_ms(1_799_999), Ok(Money(0)));
        assert_eq!(rate.per_hour_for_ms(-5), Ok(Money(0)));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert!(Money(i64::MAX).per_hour_for_ms(i64::MAX).is_err());
        assert!(Money(i64::MAX).checked_add(Money(1)).is_err());
        assert!(Money(i64::MIN).checked_sub(Money(1)).is_err());
        assert!(Money::checked_sum([Money(i64::MAX), Money(1)]).is_err());
        assert_eq!(Money::checked_sum([Money(2), Money(3)]), Ok(Money(5)));
    }
}
