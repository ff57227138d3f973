from twisted.application.service import ServiceMaker

examtwist = ServiceMaker(
    "examtwist",
    "examtwist.tap",
    "An exam server for a class: tests over a line protocol, and a student ID lookup on the web.",
    "examtwist",
)
