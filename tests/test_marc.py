"""Catalogue records: MARC21 and MARCXML read back, crosswalked to a Description, matched by call
number or control number; damaged files are reported with the file and record."""

from __future__ import annotations

import unicodedata

import pytest
from pymarc import Field, Indicators, Record, Subfield, XMLWriter

from digitize.core.errors import BadInput
from digitize.describe.marc import _trim, describe, match, read_records
from digitize.core.models import Description, Name

NFD_EDITOR = unicodedata.normalize("NFD", "Nguyễn Văn Đức,")
NFD_RESPONSIBILITY = unicodedata.normalize("NFD", "Ủy ban nhân dân tỉnh Hải Dương biên soạn.")


def f008(year: str, language: str) -> Field:
    data = f"080101s{year}    vm ".ljust(35) + language + " d"
    assert len(data) == 40
    return Field(tag="008", data=data)


def datafield(tag: str, ind: str, *pairs: str) -> Field:
    subfields = [Subfield(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    return Field(tag, indicators=Indicators(ind[0], ind[1]), subfields=subfields)


def dia_chi() -> Record:
    """A catalogued địa chí with ISBD punctuation, as Vietnamese library systems export it."""
    record = Record()
    for field in [
        Field(tag="001", data="HD0001"),
        f008("2008", "vie"),
        datafield("041", "0 ", "a", "vie", "a", "fre"),
        datafield("090", "  ", "a", "9(V21)", "b", "Đ301"),
        datafield("110", "2 ", "a", "Ủy ban nhân dân tỉnh Hải Dương."),
        datafield("245", "10", "a", "Địa chí Hải Dương :", "b", "Tập 1 /", "c", NFD_RESPONSIBILITY),
        datafield("264", " 1", "a", "Hải Dương :", "b", "Nxb. Chính trị Quốc gia,", "c", "2008."),
        datafield("300", "  ", "a", "1024 tr. :", "b", "ảnh ;", "c", "27 cm."),
        datafield("500", "  ", "a", "Đầu trang tên sách ghi: Tỉnh ủy - HĐND - UBND tỉnh Hải Dương."),
        datafield("500", "  ", "a", "Thư mục: tr. 1010-1020."),
        datafield("650", " 7", "a", "Lịch sử", "x", "Văn hóa", "z", "Hải Dương", "y", "Thế kỷ 20",
                  "2", "Bộ TK TVQG"),
        datafield("651", " 7", "a", "Hải Dương (Việt Nam)"),
        datafield("700", "1 ", "a", NFD_EDITOR, "d", "1950-", "e", "hiệu đính."),
        datafield("700", "1 ", "a", "Trần, Thị B.", "4", "edt", "4", "trl"),
        datafield("852", "  ", "a", "Thư viện tỉnh Hải Dương", "h", "ĐC.2008.001"),
        datafield("856", "40", "u", "https://thuvien.haiduong.gov.vn/dc/001"),
        datafield("856", "40", "u", "https://thuvien.haiduong.gov.vn/dc/001"),
    ]:
        record.add_field(field)
    return record


def cultes() -> Record:
    """Without ISBD punctuation, a 260, relator codes, a 651 with subdivisions and a 090 only."""
    record = Record()
    for field in [
        Field(tag="001", data="HD0002"),
        f008("1923", "fre"),
        datafield("090", "  ", "a", "VV", "b", "1923/01"),
        datafield("100", "1 ", "a", "Dumoutier, G.", "d", "1850-1904", "4", "aut"),
        datafield("245", "14", "a", "Les cultes annamites"),
        datafield("260", "  ", "a", "Hà Nội", "b", "Imprimerie d'Extrême-Orient", "c", "[1923?]"),
        datafield("300", "  ", "a", "120 tr.", "b", "minh họa", "c", "21 cm"),
        datafield("651", " 4", "a", "Việt Nam", "x", "Tôn giáo", "y", "Thế kỷ 19"),
        datafield("700", "1 ", "a", "Lê Văn A", "4", "xyz"),
        datafield("710", "2 ", "a", "Viện Viễn Đông Bác cổ.", "b", "Thư viện."),
    ]:
        record.add_field(field)
    return record


def thuc_luc() -> Record:
    """Only a title with its volume and the fixed field: dates and language come from 008."""
    record = Record()
    record.add_field(Field(tag="001", data="HD0003"), f008("1866", "   "),
                     datafield("245", "10", "a", "Đại Nam thực lục.", "n", "Tập 1."))
    return record


EXPECTED = [
    Description(
        title="Địa chí Hải Dương", subtitle="Tập 1",
        responsibility="Ủy ban nhân dân tỉnh Hải Dương biên soạn",
        names=[Name(name="Ủy ban nhân dân tỉnh Hải Dương", kind="corporate", role="creator", primary=True),
               Name(name="Nguyễn Văn Đức", role="hiệu đính"),
               Name(name="Trần, Thị B.", role="editor, translator")],
        place="Hải Dương", publisher="Nxb. Chính trị Quốc gia", date="2008", date_w3cdtf="2008",
        languages=["vie", "fre"], extent="1024 tr. : ảnh ; 27 cm",
        notes=["Đầu trang tên sách ghi: Tỉnh ủy - HĐND - UBND tỉnh Hải Dương", "Thư mục: tr. 1010-1020"],
        subjects=["Lịch sử -- Văn hóa"], places=["Hải Dương", "Hải Dương (Việt Nam)"],
        periods=["Thế kỷ 20"], call_number="ĐC.2008.001", control_number="HD0001",
        links=["https://thuvien.haiduong.gov.vn/dc/001"]),
    Description(
        title="Les cultes annamites",
        names=[Name(name="Dumoutier, G.", role="author", primary=True),
               Name(name="Lê Văn A", role="xyz"),
               Name(name="Viện Viễn Đông Bác cổ. Thư viện", kind="corporate", role="contributor")],
        place="Hà Nội", publisher="Imprimerie d'Extrême-Orient", date="[1923?]", date_w3cdtf="1923",
        languages=["fre"], extent="120 tr. : minh họa ; 21 cm", subjects=["Việt Nam -- Tôn giáo"],
        places=["Việt Nam"], periods=["Thế kỷ 19"], call_number="VV 1923/01", control_number="HD0002"),
    Description(title="Đại Nam thực lục. Tập 1", date_w3cdtf="1866", languages=["vie"],
                control_number="HD0003"),
]


def write_catalogue(path, records: list[Record]) -> None:
    if path.suffix == ".xml":
        writer = XMLWriter(open(path, "wb"))
        for record in records:
            writer.write(record)
        writer.close()
    else:
        path.write_bytes(b"".join(record.as_marc() for record in records))


@pytest.fixture(params=["catalogue.mrc", "catalogue.xml"])
def catalogue(request, tmp_path):
    path = tmp_path / request.param
    write_catalogue(path, [dia_chi(), cultes(), thuc_luc()])
    return path


def test_binary_records_are_written_as_utf8(tmp_path):
    assert dia_chi().as_marc()[9:10] == b"a"


def test_crosswalk(catalogue):
    assert NFD_EDITOR != unicodedata.normalize("NFC", NFD_EDITOR)  # the input really is decomposed
    records = read_records(catalogue)
    assert len(records) == 3
    for record, expected in zip(records, EXPECTED):
        got = describe(record)
        assert got.model_dump() == expected.model_dump()
        for name in got.names:
            assert unicodedata.is_normalized("NFC", name.name)
        assert unicodedata.is_normalized("NFC", got.responsibility)


def test_marc8_record_comes_out_nfc(tmp_path):
    # MARC-8 puts combining diacritics before the letter: Đ, dot below + i, acute + i, hook + a, ư, ơ
    record = Record(to_unicode=False)
    record.add_field(datafield("245", "10", "a", "\xa3\xf2ia ch\xe2i H\xe0ai D\xbd\xbcng."))
    data = record.as_marc()
    assert data[9:10] == b" "
    (tmp_path / "marc8.mrc").write_bytes(data)
    title = describe(read_records(tmp_path / "marc8.mrc")[0]).title
    assert title == "Địa chí Hải Dương" and unicodedata.is_normalized("NFC", title)


def test_utf8_labelled_as_marc8_is_read_as_utf8(tmp_path):
    data = dia_chi().as_marc()
    (tmp_path / "mislabelled.mrc").write_bytes(data[:9] + b" " + data[10:])
    assert describe(read_records(tmp_path / "mislabelled.mrc")[0]).title == "Địa chí Hải Dương"


def marc8_labelled_utf8() -> bytes:
    record = Record(to_unicode=False)
    record.add_field(datafield("245", "10", "a", "H\xe0ai D\xbd\xbcng"))
    data = record.as_marc()
    return data[:9] + b"a" + data[10:]


@pytest.mark.parametrize("rest, reason", [
    (cultes().as_marc()[:-15], "cut short"),  # the file ends inside record 2
    (cultes().as_marc()[:-15] + thuc_luc().as_marc(), "does not end where its length says"),
    (b"garbage, not a record" * 5 + thuc_luc().as_marc(), "record length"),
    (marc8_labelled_utf8() + thuc_luc().as_marc(), "UTF-8"),
])
def test_bad_second_record_is_named(tmp_path, rest, reason):
    path = tmp_path / "catalogue.mrc"
    path.write_bytes(dia_chi().as_marc() + rest)
    with pytest.raises(BadInput) as caught:
        read_records(path)
    assert "catalogue.mrc record 2" in str(caught.value)
    assert reason in str(caught.value)
    assert caught.value.exit_code == 65


def test_broken_marcxml_names_the_record(tmp_path):
    path = tmp_path / "catalogue.xml"
    write_catalogue(path, [dia_chi(), cultes()])
    data = path.read_bytes()
    path.write_bytes(data[:data.rindex(b"Extr")])
    with pytest.raises(BadInput, match=r"catalogue\.xml record 2: not well-formed XML"):
        read_records(path)


@pytest.mark.parametrize("name, content, reason", [
    ("notes.mrc", "Danh mục sách địa chí, không phải MARC\n".encode(), "not a MARC21 file"),
    ("empty.mrc", b"", "no MARC records"),
    ("page.xml", b"<html><body>Th\xc6\xb0 vi\xe1\xbb\x87n</body></html>", "no MARC records"),
])
def test_not_marc_names_the_file(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(BadInput, match=rf"^{name.replace('.', '[.]')}: {reason}"):
        read_records(tmp_path / name)


def test_trailing_newline_after_last_record_is_ignored(tmp_path):
    (tmp_path / "catalogue.mrc").write_bytes(dia_chi().as_marc() + b"\r\n")
    assert len(read_records(tmp_path / "catalogue.mrc")) == 1


@pytest.mark.parametrize("call_number, control_number, expected", [
    ("ĐC.2008.001", "", "HD0001"),
    (unicodedata.normalize("NFD", "  đc.2008.001 "), "", "HD0001"),  # case, NFD, spaces
    ("vv   1923/01", "", "HD0002"),  # 090 when there is no 852
    ("", "hd0002", "HD0002"),
    ("ĐC.2008.001", "HD0003", "HD0003"),  # the control number is checked first
    ("ĐC.2008.002", "", None),
    ("", "", None),
])
def test_match(call_number, control_number, expected):
    records = [dia_chi(), cultes(), thuc_luc()]
    found = match(records, call_number=call_number, control_number=control_number)
    assert (found["001"].data if found else None) == expected


@pytest.mark.parametrize("text, trimmed", [
    ("Địa chí Hải Dương :", "Địa chí Hải Dương"),
    ("Tập 1 /", "Tập 1"),
    ("Hà Nội ; ", "Hà Nội"),
    ("Song ngữ =", "Song ngữ"),
    ("Nxb. Giáo dục,", "Nxb. Giáo dục"),
    ("Hà Nội.", "Hà Nội"),
    ("27 cm.", "27 cm"),
    ("[1923?].", "[1923?]"),
    ("1024 tr.", "1024 tr."),
    ("Nxb.", "Nxb."),
    ("Smith, J.", "Smith, J."),
    ("Sách, báo, v.v.", "Sách, báo, v.v."),
    ("Còn nữa...", "Còn nữa..."),
])
def test_isbd_punctuation_is_trimmed(text, trimmed):
    assert _trim(text) == trimmed


def test_marc_crosswalks_to_the_expected_dc_and_mods_values(catalogue):
    """Binary MARC21 and MARCXML alike, field by field into oai_dc and MODS (both schema-valid)."""
    from lxml import etree

    from digitize.describe import dublincore, mods, schemas
    from digitize.core.models import Access, ItemMetadata

    description = describe(match(read_records(catalogue), control_number="HD0001"))
    meta = ItemMetadata(id="HD-DC-2008", title="x", library="HD-TV", access=Access.restricted)
    dc = dublincore.oai_dc(description, meta, ["HD-DC-2008", "file:///srv/HD-DC-2008.pdf"])
    schemas.validate(dc, "dc")
    values = {}
    for element in dc:
        values.setdefault(etree.QName(element).localname, []).append(element.text)
    assert values == {
        "title": ["Địa chí Hải Dương : Tập 1"],
        "creator": ["Ủy ban nhân dân tỉnh Hải Dương"],
        "subject": ["Lịch sử -- Văn hóa"],
        "description": ["Đầu trang tên sách ghi: Tỉnh ủy - HĐND - UBND tỉnh Hải Dương", "Thư mục: tr. 1010-1020"],
        "publisher": ["Hải Dương : Nxb. Chính trị Quốc gia"],  # place : publisher, the LoC MARC to DC crosswalk
        "contributor": ["Nguyễn Văn Đức", "Trần, Thị B."],
        "date": ["2008"],
        "type": ["Text"],
        "format": ["application/pdf"],
        "identifier": ["HD-DC-2008", "file:///srv/HD-DC-2008.pdf"],
        "source": ["ĐC.2008.001"],
        "language": ["vie", "fre"],
        "coverage": ["Hải Dương", "Hải Dương (Việt Nam)", "Thế kỷ 20"],
        "rights": [dublincore.ACCESS_TEXT[Access.restricted]],
    }
    assert dc[0].get("{http://www.w3.org/XML/1998/namespace}lang") == "vi"

    element = mods.to_mods(description, "HD-DC-2008", "restricted")
    schemas.validate(element, "mods")
    ns = {"m": mods.MODS}
    first = lambda path: element.xpath(path, namespaces=ns)  # noqa: E731
    assert [e.text for e in first("m:titleInfo/*")] == ["Địa chí Hải Dương", "Tập 1"]
    assert [(n.get("type"), n.get("usage"), n.findtext("m:namePart", namespaces=ns),
             n.findtext("m:role/m:roleTerm", namespaces=ns)) for n in first("m:name")] == [
        ("corporate", "primary", "Ủy ban nhân dân tỉnh Hải Dương", "creator"),
        ("personal", None, "Nguyễn Văn Đức", "hiệu đính"),
        ("personal", None, "Trần, Thị B.", "editor, translator")]
    assert first("m:originInfo/m:place/m:placeTerm")[0].text == "Hải Dương"
    assert first("m:originInfo/m:publisher")[0].text == "Nxb. Chính trị Quốc gia"
    assert first("m:originInfo/m:dateIssued[@encoding='w3cdtf']")[0].text == "2008"
    assert [e.text for e in first("m:language/m:languageTerm")] == ["vie", "fre"]
    assert first("m:physicalDescription/m:extent")[0].text == "1024 tr. : ảnh ; 27 cm"
    assert first("m:note[@type='statement of responsibility']")[0].text == "Ủy ban nhân dân tỉnh Hải Dương biên soạn"
    assert [e.text for e in first("m:subject/m:topic")] == ["Lịch sử", "Văn hóa"]
    assert [e.text for e in first("m:subject/m:geographic")] == ["Hải Dương", "Hải Dương (Việt Nam)"]
    assert [e.text for e in first("m:subject/m:temporal")] == ["Thế kỷ 20"]
    assert first("m:location/m:shelfLocator")[0].text == "ĐC.2008.001"
    assert first("m:location/m:url")[0].text == "https://thuvien.haiduong.gov.vn/dc/001"
    assert first("m:recordInfo/m:recordIdentifier")[0].text == "HD0001"
    assert unicodedata.is_normalized("NFC", etree.tostring(element, encoding="unicode"))
