"""What a user does with the PyPI Business Central client pybusinesscentral
(generated from Microsoft's API v2.0 description) against herald's Business
Central API, unchanged: list companies, create a customer without a number
(number series and documented defaults), read it back with $expand, list
with $filter and $select, update it with its etag and again with a stale
and a foreign one (412 both), create a sales invoice for the customer
(number series, Draft) and read it with its customer expanded, add lines to
it (one completed from an item, one priced by hand), list them, update one
with its etag and read the invoice back with its lines expanded and its
totals rolled up, delete a line, delete both.

Reads HERALD_URL (https://127.0.0.1:PORT) and HERALD_KEY; prints one JSON
object per step on stdout, for tests/it/clients to check.
"""

import json
import os
import ssl
import urllib.request

import pybusinesscentral
from pybusinesscentral.apis import CompanyApi, CustomerApi, SalesInvoiceApi, SalesInvoiceLineApi
from pybusinesscentral.models import (
    PostCustomerRequest,
    PostSalesInvoiceLineForSalesInvoiceRequest,
    PostSalesInvoiceRequest,
)
from pybusinesscentral.rest import ApiException


def say(step, **fields):
    print(json.dumps({"step": step, **fields}, default=str), flush=True)


def post_json(url, key, body):
    context = ssl.create_default_context(cafile=os.environ["HERALD_CA"])
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context) as answer:
        return json.load(answer)


def main():
    url, key = os.environ["HERALD_URL"], os.environ["HERALD_KEY"]
    config = pybusinesscentral.Configuration(host=f"{url}/api/v2.0", ssl_ca_cert=os.environ["HERALD_CA"])
    with pybusinesscentral.ApiClient(config, header_name="Authorization", header_value=f"Bearer {key}") as client:
        companies = CompanyApi(client).list_companies()
        company = companies.value[0]
        say("companies", count=len(companies.value), name=company.name)

        customers = CustomerApi(client)
        created = customers.post_customer(
            company.id,
            "application/json",
            PostCustomerRequest(display_name="Adatum Corporation", email="info@adatum.example", city="Redmond"),
        )
        say("create", id=created.id, number=created.number, type=created.type, blocked=created.blocked)

        # The generated models carry no @odata.etag: read it off the raw answer.
        answer = customers.get_customer_with_http_info(company.id, created.id, expand=["currency", "paymentMethod"])
        got = answer.data
        etag = json.loads(answer.raw_data)["@odata.etag"]
        say("get", displayName=got.display_name, city=got.city, email=got.email, etag=etag)

        listed = customers.list_customers(company.id, filter="displayName eq 'Adatum Corporation'", select=["id", "number", "displayName"])
        say("list", numbers=[c.number for c in listed.value])

        updated = customers.patch_customer(
            company.id, created.id, "application/json", etag,
            PostCustomerRequest(phone_number="555-0123"),
        )
        say("update", phoneNumber=updated.phone_number)

        statuses = []
        for stale in [etag, 'W/"JzQ0O0pBQUFBQUFBQUFBQUFBQUE9MTsyMjYxOTg0ODA7Jw=="']:
            try:
                customers.patch_customer(
                    company.id, created.id, "application/json", stale,
                    PostCustomerRequest(phone_number="555-0999"),
                )
                statuses.append(None)
            except ApiException as e:
                statuses.append(e.status)
        say("staleUpdate", statuses=statuses)

        invoices = SalesInvoiceApi(client)
        invoice = invoices.post_sales_invoice(
            company.id,
            "application/json",
            PostSalesInvoiceRequest(customer_id=created.id, external_document_number="PO-4711"),
        )
        read = invoices.get_sales_invoice(company.id, invoice.id, expand=["customer"])
        say(
            "invoice",
            number=read.number,
            status=read.status,
            customerId=read.customer_id,
            customerNumber=read.customer.number if read.customer else None,
            externalDocumentNumber=read.external_document_number,
        )

        # pybusinesscentral has no items API: the item is made with a plain POST.
        item = post_json(
            f"{url}/api/v2.0/companies({company.id})/items", key,
            {"number": "1928-S", "displayName": "AMSTERDAM Lamp", "unitPrice": 54.9, "baseUnitOfMeasureCode": "PCS"},
        )
        lines = SalesInvoiceLineApi(client)
        lamp = lines.post_sales_invoice_line_for_sales_invoice(
            company.id, invoice.id, "application/json",
            PostSalesInvoiceLineForSalesInvoiceRequest(item_id=item["id"], quantity=2, tax_percent=25),
        )
        manual = lines.post_sales_invoice_line_for_sales_invoice(
            company.id, invoice.id, "application/json",
            PostSalesInvoiceLineForSalesInvoiceRequest(line_type="Item", description="Assembly", quantity=1, unit_price=10),
        )
        say(
            "lines",
            lamp={"sequence": lamp.sequence, "lineType": lamp.line_type, "description": lamp.description,
                  "unitPrice": lamp.unit_price, "amountIncludingTax": lamp.amount_including_tax},
            manual={"sequence": manual.sequence, "amountExcludingTax": manual.amount_excluding_tax},
        )
        answer = lines.get_sales_invoice_line_for_sales_invoice_with_http_info(company.id, invoice.id, manual.id)
        line_etag = json.loads(answer.raw_data)["@odata.etag"]
        patched = lines.patch_sales_invoice_line_for_sales_invoice(
            company.id, invoice.id, manual.id, "application/json", line_etag,
            PostSalesInvoiceLineForSalesInvoiceRequest(quantity=3),
        )
        listed = lines.list_sales_invoice_lines_for_sales_invoice(company.id, invoice.id)
        read = invoices.get_sales_invoice(company.id, invoice.id, expand=["salesInvoiceLines"])
        say(
            "invoiceLines",
            patchedAmount=patched.amount_excluding_tax,
            listed=[l.sequence for l in listed.value],
            expanded=[l.description for l in read.sales_invoice_lines or []],
            totalAmountExcludingTax=read.total_amount_excluding_tax,
            totalTaxAmount=read.total_tax_amount,
            totalAmountIncludingTax=read.total_amount_including_tax,
        )
        lines.delete_sales_invoice_line_for_sales_invoice(company.id, invoice.id, lamp.id)
        after = invoices.get_sales_invoice(company.id, invoice.id)
        say("lineDeleted", totalAmountIncludingTax=after.total_amount_including_tax)

        invoices.delete_sales_invoice(company.id, invoice.id)
        customers.delete_customer(company.id, created.id)
        left = customers.list_customers(company.id, filter="displayName eq 'Adatum Corporation'")
        say("delete", remaining=len(left.value))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the test shows this with the traceback on stderr
        say("error", type=type(e).__name__, message=str(e)[:2000])
        raise
