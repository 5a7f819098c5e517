"""Demo officers, borrowers and loans (seeded, so every run gets the same people)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Borrower, Loan, User

__all__ = ["DEMO_TEAM", "link_demo_user", "load_demo"]

DEMO_TEAM = "城东支行"
PRODUCTS = ("个人经营贷", "小微企业流动资金贷", "商户信用贷")
PURPOSES = ("进货备货", "购置设备", "门店装修", "支付货款", "扩大经营")
BUSINESSES = ("餐饮", "建材批发", "服装零售", "农产品收购", "汽车维修", "五金加工", "超市", "物流运输")
TIERS = ("low", "low", "medium", "high")
CENTRE = (31.2304, 121.4737)
"""Where the demo borrowers are (人民广场, Shanghai): each within a few hundred metres, so a location typed as
``31.23,121.47`` on the console is near every address on file (bot.desk.quality checks on-site visits)."""


async def load_demo(session: AsyncSession, *, seed: int = 20261123, borrowers: int = 8) -> bool:
    """Fill an empty database with demo data; returns False (and does nothing) if borrowers exist."""
    if await session.scalar(select(func.count()).select_from(Borrower)):
        return False
    from faker import Faker  # imported when demo data is made: it is slow to import

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    around = random.Random(seed + 1)  # the coordinates' own draws: the other demo values stay as they were
    officers = [
        User(name="王磊", role="officer", team=DEMO_TEAM, phone="+8613900139001"),
        User(name="陈静", role="officer", team=DEMO_TEAM, phone="+8613900139002"),
    ]
    session.add_all([*officers, User(name="刘主管", role="supervisor", team=DEMO_TEAM)])
    await session.flush()
    today = date(2026, 11, 1)
    for index in range(1, borrowers + 1):
        borrower = Borrower(
            code=f"B{index:03d}",
            name=fake.name(),
            phone=f"+86138{rng.randrange(10**8):08d}",
            business=BUSINESSES[(index - 1) % len(BUSINESSES)],
            address=fake.address().split(" ")[0],
            officer_id=officers[(index - 1) % len(officers)].id,
            risk_tier=TIERS[index % len(TIERS)],
            latitude=round(CENTRE[0] + around.uniform(-0.003, 0.003), 6),
            longitude=round(CENTRE[1] + around.uniform(-0.003, 0.003), 6),
        )
        session.add(borrower)
        await session.flush()
        disbursed = today - timedelta(days=rng.randrange(20, 200))
        overdue_days = 5 if index == borrowers else 0
        session.add(
            Loan(
                borrower_id=borrower.id,
                contract_no=f"DK{disbursed:%Y%m}{index:04d}",
                product=PRODUCTS[index % len(PRODUCTS)],
                amount=Decimal(rng.choice((30000, 50000, 80000, 100000, 150000, 200000))),
                disbursed_on=disbursed,
                due_on=disbursed + timedelta(days=365),
                purpose=PURPOSES[index % len(PURPOSES)],
                status="overdue" if overdue_days else "active",
                overdue_amount=Decimal(4500) if overdue_days else Decimal(0),
                overdue_days=overdue_days,
            )
        )
    await session.flush()
    return True


async def link_demo_user(session: AsyncSession, telegram_id: int, role: str) -> User:
    """Give a Telegram id to the first demo user of a role (the officer 王磊, the supervisor 刘主管)."""
    holder = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    if holder is not None:
        holder.telegram_id = None
        await session.flush()
    user = await session.scalar(select(User).where(User.role == role, User.team == DEMO_TEAM).order_by(User.id))
    if user is None:
        raise LookupError(f"no demo {role}: run `visitbot demo load` on an empty database first")
    user.telegram_id = telegram_id
    user.active = True
    await session.flush()
    return user
