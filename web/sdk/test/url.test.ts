import { describe, expect, test } from "vitest";
import { campaign, scrub, searchTerm } from "../src/url";

describe("scrub", () => {
  test.each([
    ["https://shop.example/p/1?email=a@b.c&utm_source=news&x=1", "https://shop.example/p/1?utm_source=news"],
    ["https://shop.example/?gclid=G1&fbclid=F1&msclkid=M&ttclid=T&dclid=D&token=s3cr3t", "https://shop.example/?gclid=G1&fbclid=F1&msclkid=M&ttclid=T&dclid=D"],
    ["https://shop.example/cart#access_token=abc", "https://shop.example/cart"],
    ["https://user:pass@shop.example:8443/a?q=shoes", "https://shop.example:8443/a"],
    ["http://127.0.0.1:8081/search?q=red+shoes&utm_medium=cpc&utm_campaign=x%20y", "http://127.0.0.1:8081/search?utm_medium=cpc&utm_campaign=x+y"],
    ["https://shop.example", "https://shop.example/"],
  ])("%s", (input, expected) => {
    expect(scrub(input)).toBe(expected);
  });

  test("keeps every utm_* parameter, not only the five campaign fields", () => {
    expect(scrub("https://a.example/?utm_id=7&utm_source_platform=x&utmost=1")).toBe("https://a.example/?utm_id=7&utm_source_platform=x");
  });

  test.each([undefined, null, "", "not a url", "mailto:jane@example.com", "tel:+123", "javascript:void(0)", "file:///etc/passwd"])(
    "%s gives nothing",
    (input) => {
      expect(scrub(input)).toBeUndefined();
    },
  );
});

describe("campaign", () => {
  test("maps UTM parameters and the first click id", () => {
    expect(
      campaign("?utm_source=newsletter&utm_medium=email&utm_campaign=black_friday&utm_term=shoes&utm_content=hero&fbclid=F&gclid=G"),
    ).toEqual({ source: "newsletter", medium: "email", name: "black_friday", term: "shoes", content: "hero", click_id: "G" });
  });

  test("omits absent fields instead of sending null", () => {
    const c = campaign("?gclid=abc&q=x")!;
    expect(JSON.parse(JSON.stringify(c))).toEqual({ click_id: "abc" });
  });

  test("no campaign parameters, no campaign", () => {
    expect(campaign("?q=shoes&utm_source=")).toBeUndefined();
    expect(campaign("")).toBeUndefined();
  });
});

describe("searchTerm", () => {
  const keys = ["q", "s", "search", "query"];
  test("first configured parameter with a value, trimmed", () => {
    expect(searchTerm("?page=2&query=%20red%20shoes%20", keys)).toBe("red shoes");
    expect(searchTerm("?q=&s=boots", keys)).toBe("boots");
  });
  test("none", () => {
    expect(searchTerm("?p=1", keys)).toBeUndefined();
    expect(searchTerm("?q=shoes", [])).toBeUndefined();
  });
  test("capped at 100 characters", () => {
    expect(searchTerm("?q=" + "x".repeat(300), keys)).toHaveLength(100);
  });
});
