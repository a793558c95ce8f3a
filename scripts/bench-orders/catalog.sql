-- The catalog's database work for one order: PlaceOrder's BatchGetProducts.
\set product random(1, 20)
SELECT id, sku, name, description, category_id, price_minor, currency_code, image_url, created_at, updated_at
  FROM products WHERE id IN (({{PRODUCT_IDS}})[:product]);
