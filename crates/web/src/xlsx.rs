//! Spreadsheet exports (XLSX) for people who work in Excel/WPS.

use onewindow_domain::catalog::Catalog;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// The catalog as a workbook: one row per item, one sheet of materials, one of bundles.
pub fn catalog(cat: &Catalog) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let items = wb.add_worksheet().set_name("事项")?;
    let headers = [
        "事项编码",
        "事项名称",
        "上级事项",
        "办理项",
        "事项类型",
        "窗口类别",
        "实施部门编码",
        "法定时限(工作日)",
        "承诺时限(工作日)",
        "收费",
        "办理地点",
        "办理时间",
        "网办",
        "到现场次数",
        "设定依据",
        "受理条件",
    ];
    for (c, h) in headers.iter().enumerate() {
        items.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, i) in cat.items.iter().enumerate() {
        let r = r as u32 + 1;
        items.write_string(r, 0, &i.code)?;
        items.write_string(r, 1, &i.name)?;
        items.write_string(r, 2, i.parent_code.as_deref().unwrap_or(""))?;
        items.write_string(r, 3, i.variant.as_deref().unwrap_or(""))?;
        items.write_string(r, 4, i.item_type.label())?;
        items.write_string(r, 5, &i.window_class)?;
        items.write_string(r, 6, &i.department_code)?;
        match i.legal_limit_days {
            Some(d) => items.write_number(r, 7, f64::from(d))?,
            None => items.write_string(r, 7, "")?,
        };
        if i.is_immediate() {
            items.write_string(r, 8, "即办")?;
        } else {
            items.write_number(r, 8, f64::from(i.promised_limit_days))?;
        }
        items.write_string(r, 9, i.fee.summary())?;
        items.write_string(r, 10, &i.place)?;
        items.write_string(r, 11, &i.hours)?;
        items.write_string(r, 12, if i.online { "是" } else { "否" })?;
        items.write_number(r, 13, f64::from(i.visits))?;
        items.write_string(r, 14, &i.legal_basis)?;
        items.write_string(r, 15, &i.conditions)?;
    }
    items.autofit();
    let mats = wb.add_worksheet().set_name("材料")?;
    for (c, h) in [
        "事项编码",
        "材料名称",
        "形式",
        "份数",
        "必需",
        "容缺",
        "电子证照",
        "告知承诺",
        "来源",
    ]
    .iter()
    .enumerate()
    {
        mats.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    let mut r = 1u32;
    let yes = |b: bool| if b { "是" } else { "否" };
    for i in &cat.items {
        for m in &i.materials {
            mats.write_string(r, 0, &i.code)?;
            mats.write_string(r, 1, &m.name)?;
            mats.write_string(r, 2, m.form.label())?;
            mats.write_number(r, 3, f64::from(m.copies))?;
            mats.write_string(r, 4, yes(m.required))?;
            mats.write_string(r, 5, yes(m.tolerable))?;
            mats.write_string(r, 6, yes(m.e_cert))?;
            mats.write_string(r, 7, yes(m.commitment))?;
            mats.write_string(r, 8, &m.source)?;
            r += 1;
        }
    }
    mats.autofit();
    let bundles = wb.add_worksheet().set_name("一件事")?;
    for (c, h) in ["编码", "名称", "包含事项", "说明"].iter().enumerate() {
        bundles.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, b) in cat.bundles.iter().enumerate() {
        let r = r as u32 + 1;
        bundles.write_string(r, 0, &b.code)?;
        bundles.write_string(r, 1, &b.name)?;
        bundles.write_string(r, 2, b.item_codes.join("、"))?;
        bundles.write_string(r, 3, &b.description)?;
    }
    wb.save_to_buffer()
}
