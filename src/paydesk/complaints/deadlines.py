"""The regulatory deadlines for answering a complaint, per jurisdiction profile (DESIGN.md, "Support desk").
The help center shows them; the complaints feature will run its clocks from the same table."""

from __future__ import annotations

from typing import Any

PROFILES: tuple[dict[str, Any], ...] = (
    {"id": "eu_psd2", "rule": "EU PSD2 Art. 101 / UK DISP 1.6.2AR",
     "applies": {"en": "Payment services in the EU and the UK", "zh-CN": "欧盟和英国的支付服务"},
     "deadline": {"en": "A final answer within 15 business days; up to 35 business days in exceptional cases, "
                        "with a holding reply that says why",
                  "zh-CN": "15 个工作日内给出最终答复；特殊情况下最长 35 个工作日，并须先发出说明原因的临时答复"}},
    {"id": "uk_disp", "rule": "UK DISP",
     "applies": {"en": "Other services in the UK", "zh-CN": "英国的其他服务"},
     "deadline": {"en": "Resolved by the end of the 3rd business day, otherwise a final answer within 8 weeks",
                  "zh-CN": "第 3 个工作日结束前解决，否则 8 周内给出最终答复"}},
    {"id": "us_cfpb", "rule": "US CFPB",
     "applies": {"en": "Complaints sent through the CFPB portal (United States)",
                 "zh-CN": "通过美国消费者金融保护局（CFPB）平台提交的投诉"},
     "deadline": {"en": "A response within 15 calendar days, closed within 60",
                  "zh-CN": "15 个自然日内回复，60 日内结案"}},
    {"id": "cn_consumer", "rule": "China (banking and insurance consumer complaints)",
     "applies": {"en": "Customers in mainland China", "zh-CN": "中国大陆的客户"},
     "deadline": {"en": "15 days; 30 days if the case is complex; at most 60 days with approval",
                  "zh-CN": "15 日内；情况复杂的 30 日内；经批准最长 60 日"}},
)
