import { describe, expect, it } from "vitest";
import { cardBrand, expiredField, passesLuhn } from "../src/card-details.ts";

describe("card details", () => {
  it("accepts the documented test cards and rejects a changed digit", () => {
    for (const n of [
      "4242424242424242",
      "4000000000000002",
      "4000000000009995",
      "4000000000000119",
      "4000000000000259",
      "4000000000003063",
    ]) {
      expect(passesLuhn(n), n).toBe(true);
    }
    expect(passesLuhn("4242424242424241")).toBe(false);
    expect(passesLuhn("378282246310005")).toBe(true); // odd length
    expect(passesLuhn("")).toBe(false);
  });

  it("tells the brand from the issuer prefix", () => {
    expect(cardBrand("4242424242424242")).toBe("visa");
    expect(cardBrand("5105105105105100")).toBe("mastercard");
    expect(cardBrand("2221000000000009")).toBe("mastercard");
    expect(cardBrand("2720990000000007")).toBe("mastercard");
    expect(cardBrand("2721000000000004")).toBe("card");
    expect(cardBrand("340000000000009")).toBe("amex");
    expect(cardBrand("371449635398431")).toBe("amex");
    expect(cardBrand("6011111111111117")).toBe("card");
  });

  it("treats a card as valid through the end of its expiry month", () => {
    const now = new Date(Date.UTC(2030, 5, 30, 23, 59)); // June 2030
    expect(expiredField(6, 2030, now)).toBeUndefined();
    expect(expiredField(1, 2031, now)).toBeUndefined();
    expect(expiredField(5, 2030, now)).toBe("exp_month");
    expect(expiredField(12, 2029, now)).toBe("exp_year");
  });
});
